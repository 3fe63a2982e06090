"""DRF's authtoken app is gone (tokens are accounts.AuthSession since 0003). A database made before that still has
its table, whose foreign key into accounts_user blocks deleting users and flushing: drop it and its migration
records. Its tokens stopped working with 0003 anyway."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_expiring_tokens_and_wechat")]

    operations = [
        migrations.RunSQL(
            sql=["DROP TABLE IF EXISTS authtoken_token CASCADE",
                 "DELETE FROM django_migrations WHERE app = 'authtoken'",
                 "DELETE FROM django_content_type WHERE app_label = 'authtoken'"],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
