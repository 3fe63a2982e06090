"""The 31 province-level regions of mainland China (GB/T 2260 codes) with a logistics tier:
1 = core east-coast regions, 3 = remote regions with costly delivery, 2 = the rest."""
from django.db import migrations

from supply.regions import PROVINCES


def add_provinces(apps, schema_editor):
    Region = apps.get_model("supply", "Region")
    for code, name, name_en, tier in PROVINCES:
        Region.objects.update_or_create(code=code, defaults={"name": name, "name_en": name_en, "tier": tier})


class Migration(migrations.Migration):
    dependencies = [("supply", "0001_catalogue_stock_pricing")]
    operations = [migrations.RunPython(add_provinces, migrations.RunPython.noop)]
