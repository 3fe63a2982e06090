"""The storefront never shows a product's import record (data set, original code, original price): it lives in
`Product.source`, which no shopper endpoint sends; `attributes` holds only what shoppers may read."""
import importlib

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from supply.models import Product

pytestmark = pytest.mark.django_db
SECRET_PRICE = "4.25"


def test_the_listing_pages_send_attributes_but_never_the_source_record(listing):
    Product.objects.filter(pk=listing.sku.product_id).update(
        attributes={"材质": "陶瓷"}, source={"data_set": "UCI Online Retail", "gbp_modal_price": SECRET_PRICE})
    client = APIClient()
    detail = client.get(f"/api/v1/listings/{listing.pk}")
    assert detail.status_code == 200
    assert detail.json()["attributes"] == {"材质": "陶瓷"}
    for body in (detail.content.decode(), client.get("/api/v1/listings").content.decode()):
        assert "source" not in body and SECRET_PRICE not in body and "UCI" not in body


def test_the_migration_moves_import_records_out_of_attributes(listing):
    product = listing.sku.product
    Product.objects.filter(pk=product.pk).update(
        attributes={"source": "UCI Online Retail", "stock_code": "85123A", "gbp_modal_price": "2.55", "颜色": "白"},
        source={})
    migration = importlib.import_module("supply.migrations.0006_move_import_records_out_of_attributes")
    migration.forwards(django_apps, None)
    product.refresh_from_db()
    assert product.attributes == {"颜色": "白"}
    assert product.source == {"data_set": "UCI Online Retail", "stock_code": "85123A", "gbp_modal_price": "2.55"}
    migration.forwards(django_apps, None)  # a second run changes nothing
    product.refresh_from_db()
    assert product.attributes == {"颜色": "白"}
