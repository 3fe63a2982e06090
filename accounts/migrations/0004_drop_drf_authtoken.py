"""DRF's authtoken app is gone (tokens are accounts.AuthSession since 0003). A database made before that still has
its table, whose foreign key into accounts_user blocks deleting users and flushing: drop it, its migration records,
and its content type with the permissions that point to it. Its tokens stopped working with 0003 anyway."""
from django.db import migrations


def forget_authtoken(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="authtoken").delete()  # cascades to its permissions and their links


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_expiring_tokens_and_wechat"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunSQL(sql=["DROP TABLE IF EXISTS authtoken_token CASCADE",
                               "DELETE FROM django_migrations WHERE app = 'authtoken'"],
                          reverse_sql=migrations.RunSQL.noop),
        migrations.RunPython(forget_authtoken, migrations.RunPython.noop),
    ]
