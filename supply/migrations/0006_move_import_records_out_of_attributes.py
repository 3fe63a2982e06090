from django.db import migrations

# Keys the demo loader used to write into the shopper-visible attributes; they are the import's record.
IMPORT_KEYS = {"source": "data_set", "stock_code": "stock_code", "gbp_modal_price": "gbp_modal_price"}


def forwards(apps, schema_editor):
    Product = apps.get_model("supply", "Product")
    rows = Product.objects.filter(attributes__has_key="stock_code").only("pk", "attributes", "source")
    for product in rows.iterator():
        moved = {IMPORT_KEYS[key]: product.attributes[key] for key in IMPORT_KEYS if key in product.attributes}
        product.source = {**product.source, **moved}
        product.attributes = {key: value for key, value in product.attributes.items() if key not in IMPORT_KEYS}
        product.save(update_fields=["attributes", "source"])


def backwards(apps, schema_editor):
    Product = apps.get_model("supply", "Product")
    reverse = {new: old for old, new in IMPORT_KEYS.items()}
    rows = Product.objects.filter(source__has_key="stock_code").only("pk", "attributes", "source")
    for product in rows.iterator():
        product.attributes = {**product.attributes,
                              **{reverse[key]: value for key, value in product.source.items() if key in reverse}}
        product.save(update_fields=["attributes"])


class Migration(migrations.Migration):
    """Import records (data set, original stock code, original price) leave `attributes`, which shoppers see."""

    dependencies = [("supply", "0005_product_source_record")]

    operations = [migrations.RunPython(forwards, backwards)]
