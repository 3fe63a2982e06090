import time
from datetime import timedelta

import pytest
from django.utils import timezone

from supply.models import SKU, InventorySyncBatch, Stock, StockMovement
from tests.factories import ProductFactory, SKUFactory, SupplierFactory

pytestmark = pytest.mark.django_db


def sync(client, supplier, batch_id, rows):
    return client.put("/api/v1/supplier/stock", {"batch_id": batch_id, "rows": rows}, format="json",
                      HTTP_AUTHORIZATION=f"Bearer {supplier.issued_token}")


def row(sku, quantity, as_of):
    return {"sku": sku.code, "quantity": quantity, "as_of": as_of.isoformat()}


def test_sync_sets_available_from_on_hand_minus_reserved_and_is_idempotent(api_client):
    supplier = SupplierFactory()
    sku = SKUFactory(product=ProductFactory(supplier=supplier))
    Stock.objects.filter(sku=sku).update(available=10, reserved=3)
    now = timezone.now()
    response = sync(api_client, supplier, "batch-1", [row(sku, 50, now)])
    assert response.status_code == 200
    assert response.json() == {"batch_id": "batch-1", "received": 1, "applied": 1, "stale": [], "unknown": []}
    assert response["Idempotent-Replayed"] == "false"
    stock = Stock.objects.get(sku=sku)
    assert (stock.available, stock.reserved) == (47, 3)
    again = sync(api_client, supplier, "batch-1", [row(sku, 999, now + timedelta(hours=1))])
    assert again["Idempotent-Replayed"] == "true" and again.json() == response.json()
    assert Stock.objects.get(sku=sku).available == 47  # the replay applied nothing new
    assert StockMovement.objects.filter(sku=sku, kind="sync").count() == 1


def test_older_updates_are_ignored_and_reported(api_client):
    supplier = SupplierFactory()
    sku = SKUFactory(product=ProductFactory(supplier=supplier))
    now = timezone.now()
    sync(api_client, supplier, "new", [row(sku, 30, now)])
    response = sync(api_client, supplier, "old", [row(sku, 5, now - timedelta(minutes=5))])
    assert response.json()["stale"] == [sku.code] and response.json()["applied"] == 0
    assert Stock.objects.get(sku=sku).available == 30


def test_unknown_and_other_suppliers_skus_are_reported_not_applied(api_client):
    supplier, other = SupplierFactory(), SupplierFactory()
    foreign = SKUFactory(product=ProductFactory(supplier=other))
    response = sync(api_client, supplier, "b", [row(foreign, 1, timezone.now()),
                                                {"sku": "NOPE", "quantity": 1, "as_of": timezone.now().isoformat()}])
    assert sorted(response.json()["unknown"]) == sorted([foreign.code, "NOPE"])
    assert Stock.objects.get(sku=foreign).available == 100


def test_five_thousand_rows_in_one_call(api_client):
    supplier = SupplierFactory()
    product = ProductFactory(supplier=supplier)
    SKU.objects.bulk_create([SKU(product=product, code=f"BULK{n:05d}", cost_price=1, floor_price=2,
                                 suggested_price=3) for n in range(5000)])
    Stock.objects.bulk_create([Stock(sku=sku) for sku in SKU.objects.filter(code__startswith="BULK")])
    now = timezone.now()
    rows = [{"sku": f"BULK{n:05d}", "quantity": n, "as_of": now.isoformat()} for n in range(5000)]
    started = time.perf_counter()
    response = sync(api_client, supplier, "bulk-1", rows)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and response.json()["applied"] == 5000
    assert Stock.objects.get(sku__code="BULK04999").available == 4999
    assert elapsed < 30, f"5,000 rows took {elapsed:.1f}s"


@pytest.mark.parametrize("body,code", [
    ({"batch_id": "x", "rows": []}, "invalid"),
    ({"batch_id": "x", "rows": [{"sku": "A", "quantity": -1, "as_of": "2026-01-01T00:00:00Z"}]}, "invalid"),
    ({"batch_id": "x", "rows": [{"sku": "A", "quantity": "many", "as_of": "yesterday"}]}, "invalid"),
    ({"batch_id": "bad id with spaces", "rows": [{"sku": "A", "quantity": 1, "as_of": "2026-01-01"}]}, "invalid"),
    ({"rows": "nope"}, "invalid"),
])
def test_malformed_batches_are_400_and_change_nothing(api_client, body, code):
    supplier = SupplierFactory()
    response = api_client.put("/api/v1/supplier/stock", body, format="json",
                              HTTP_AUTHORIZATION=f"Bearer {supplier.issued_token}")
    assert response.status_code == 400 and response.json()["code"] == code
    assert not InventorySyncBatch.objects.exists()


def test_too_many_rows_and_bad_tokens_are_refused(api_client):
    supplier = SupplierFactory()
    rows = [{"sku": "A", "quantity": 1, "as_of": "2026-01-01T00:00:00Z"}] * 5001
    assert sync(api_client, supplier, "big", rows).status_code == 400
    response = api_client.put("/api/v1/supplier/stock", {"batch_id": "b", "rows": []}, format="json",
                              HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 401 and response.json()["code"] == "supplier_token_invalid"
    response = api_client.put("/api/v1/supplier/stock", {}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "supplier_token_missing"


@pytest.mark.django_db(transaction=True)
def test_eight_identical_batches_at_once_get_the_same_answer_and_apply_once():
    from rest_framework.test import APIClient

    from tests.helpers import race

    supplier = SupplierFactory()
    skus = [SKUFactory(product=ProductFactory(supplier=supplier)) for _ in range(3)]
    now = timezone.now()
    rows = [row(sku, 40 + index, now) for index, sku in enumerate(skus)]

    def put(index):
        response = sync(APIClient(), supplier, "same-batch-1", rows)
        return response.status_code, response.json(), response["Idempotent-Replayed"]

    results, errors = race(8, put)
    assert errors == []
    assert {status for status, _body, _replayed in results} == {200}
    assert len({repr(body) for _status, body, _replayed in results}) == 1  # the same answer for all eight
    assert sorted(replayed for _status, _body, replayed in results) == ["false"] + ["true"] * 7
    assert InventorySyncBatch.objects.filter(supplier=supplier, batch_id="same-batch-1").count() == 1
    for index, sku in enumerate(skus):
        assert Stock.objects.get(sku=sku).available == 40 + index
        assert StockMovement.objects.filter(sku=sku, kind="sync").count() == 1  # applied once
