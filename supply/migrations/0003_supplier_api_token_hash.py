"""Suppliers' API tokens are stored as their SHA-256 only: the existing tokens are hashed in place, so every
supplier system keeps working with the token it has, and the plain column is dropped.

Going back cannot recover the tokens: every supplier gets a new plain token, which an operator must hand out again.
"""
import hashlib
import secrets

from django.db import migrations, models

import supply.models


def hash_tokens(apps, schema_editor):
    Supplier = apps.get_model("supply", "Supplier")
    for supplier in Supplier.objects.only("pk", "api_token").iterator():
        Supplier.objects.filter(pk=supplier.pk).update(
            api_token_hash=hashlib.sha256(supplier.api_token.encode()).hexdigest())


def issue_plain_tokens(apps, schema_editor):
    Supplier = apps.get_model("supply", "Supplier")
    for pk in Supplier.objects.values_list("pk", flat=True).iterator():
        Supplier.objects.filter(pk=pk).update(api_token=secrets.token_urlsafe(32))


class Migration(migrations.Migration):
    dependencies = [("supply", "0002_mainland_provinces")]

    operations = [
        migrations.AddField(
            model_name="supplier",
            name="api_token_hash",
            field=models.CharField(max_length=64, null=True, verbose_name="接口令牌摘要 API token SHA-256"),
        ),
        # Nullable while it goes, so that going back can re-add it before new tokens are written into it.
        migrations.AlterField(
            model_name="supplier",
            name="api_token",
            field=models.CharField(max_length=64, null=True, unique=True, verbose_name="接口令牌 API token"),
        ),
        migrations.RunPython(hash_tokens, issue_plain_tokens, elidable=False),
        migrations.AlterField(
            model_name="supplier",
            name="api_token_hash",
            field=models.CharField(default=supply.models.unknown_api_token_hash, editable=False, max_length=64,
                                   unique=True, verbose_name="接口令牌摘要 API token SHA-256"),
        ),
        migrations.RemoveField(model_name="supplier", name="api_token"),
    ]
