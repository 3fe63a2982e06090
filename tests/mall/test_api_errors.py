"""Every shopper endpoint answers malformed input with a 4xx and a stable error code, never a 500."""
import re

import pytest
from rest_framework.test import APIClient

from mall.models import CartItem, Order
from supply.models import Stock
from tests.factories import AddressFactory, UserFactory
from tests.mall.conftest import place

pytestmark = pytest.mark.django_db

GARBAGE_BODIES = [
    None, [], "text", 12, {"lines": "x"}, {"lines": [{"listing_id": "abc", "quantity": -3}]},
    {"listing_id": -1, "quantity": 0}, {"quantity": 10**12}, {"address_id": 10**30},
    {"idempotency_key": "", "lines": [], "address_id": None}, {"template_id": {"nested": True}},
    {"region_code": "abc", "phone": 12, "recipient": ""}, {"coupon_id": "1; DROP TABLE"},
]


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


@pytest.fixture
def shopper_api(buyer):
    client = APIClient()
    client.force_authenticate(buyer)
    return client


def test_a_walk_over_every_v1_endpoint_with_garbage_never_gives_a_500(shopper_api, buyer, address, listing):
    order = place(buyer, address, listing)
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    checked = 0
    for path, methods in schema["paths"].items():
        for method in methods:
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for identifier in ("999999999", "abc", "-1", "99999999999999999999999", str(order.pk)):
                url = fill(path, identifier)
                for body in GARBAGE_BODIES if method != "get" else [None]:
                    call = getattr(shopper_api, method)
                    response = call(url, body, format="json") if body is not None else call(url)
                    checked += 1
                    assert response.status_code < 500, (method, url, body, response.status_code)
                    if response.status_code >= 400:
                        payload = response.json()
                        assert set(payload) == {"code", "message", "detail"}, (method, url, payload)
                        assert payload["code"] and payload["message"]
    assert checked > 500
    order.refresh_from_db()
    # the walk never placed, paid or cancelled anything by accident with garbage
    assert Order.objects.count() >= 1


@pytest.mark.parametrize("body,status,code", [
    ({"lines": [{"listing_id": "abc", "quantity": 1}], "address_id": 1, "idempotency_key": "key-00001"}, 400,
     "invalid"),
    ({"lines": [{"listing_id": 1, "quantity": -2}], "address_id": 1, "idempotency_key": "key-00001"}, 400,
     "invalid"),
    ({"lines": [{"listing_id": 1, "quantity": 0}], "address_id": 1, "idempotency_key": "key-00001"}, 400,
     "invalid"),
    ({"lines": [], "address_id": 1, "idempotency_key": "key-00001"}, 400, "invalid"),
    ({"lines": [{"listing_id": 1, "quantity": 1}], "address_id": 1}, 400, "invalid"),
    ({"lines": [{"listing_id": 1, "quantity": 1}], "address_id": 1, "idempotency_key": "短"}, 400, "invalid"),
])
def test_malformed_order_submissions(shopper_api, body, status, code):
    response = shopper_api.post("/api/v1/orders", body, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert Order.objects.count() == 0


def test_unknown_ids_and_other_peoples_things_are_404(shopper_api, buyer, address, listing):
    stranger = UserFactory()
    theirs = place(stranger, AddressFactory(user=stranger), listing, key="stranger-order-1")
    body = {"lines": [{"listing_id": 999999, "quantity": 1}], "address_id": address.pk,
            "idempotency_key": "unknown-listing-1"}
    assert shopper_api.post("/api/v1/orders", body, format="json").json()["code"] == "listing_not_found"
    body = {"lines": [{"listing_id": listing.pk, "quantity": 1}], "address_id": theirs.buyer.addresses.get().pk,
            "idempotency_key": "their-address-1"}
    response = shopper_api.post("/api/v1/orders", body, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "address_not_found")
    for url in (f"/api/v1/orders/{theirs.pk}", f"/api/v1/orders/{theirs.pk}/cancel",
                f"/api/v1/orders/{theirs.pk}/pay", f"/api/v1/orders/{theirs.pk}/simulated-pay"):
        response = shopper_api.get(url) if url.endswith(str(theirs.pk)) else shopper_api.post(url)
        assert (response.status_code, response.json()["code"]) == (404, "order_not_found"), url
    theirs.refresh_from_db()
    assert theirs.status == Order.Status.PENDING_PAYMENT
    assert Stock.objects.get(sku=listing.sku).reserved == 1


def test_the_shopper_flow_over_http(shopper_api, buyer, address, listing):
    assert shopper_api.post("/api/v1/cart/items", {"listing_id": listing.pk, "quantity": 2},
                            format="json").status_code == 201
    assert shopper_api.post("/api/v1/cart/items", {"listing_id": listing.pk, "quantity": 1},
                            format="json").json()["quantity"] == 3
    preview = shopper_api.post("/api/v1/checkout/preview", {"lines": [{"listing_id": listing.pk, "quantity": 3}],
                                                            "address_id": address.pk}, format="json")
    assert preview.status_code == 200 and preview.json()["total"] == "150.00"
    submit = {"lines": [{"listing_id": listing.pk, "quantity": 3}], "address_id": address.pk,
              "idempotency_key": "http-flow-0001", "from_cart": True}
    created = shopper_api.post("/api/v1/orders", submit, format="json")
    assert created.status_code == 201 and created.json()["total"] == "150.00"
    assert not CartItem.objects.filter(user=buyer).exists()
    assert shopper_api.post("/api/v1/orders", submit, format="json").status_code == 200  # the retry
    order_id = created.json()["id"]
    paid = shopper_api.post(f"/api/v1/orders/{order_id}/simulated-pay")
    assert paid.status_code == 200 and paid.json()["payment_status"] == "paid"
    again = shopper_api.post(f"/api/v1/orders/{order_id}/simulated-pay")
    assert (again.status_code, again.json()["code"]) == (409, "order_not_payable")
    cancel = shopper_api.post(f"/api/v1/orders/{order_id}/cancel")
    assert (cancel.status_code, cancel.json()["code"]) == (409, "illegal_transition")
    listed = shopper_api.get("/api/v1/orders")
    assert listed.json()["count"] == 1


def test_search_works_in_chinese_and_english(api_client, listing):
    # the factory's title is "白色爱心挂饰 WHITE HANGING HEART n"
    for query in ("爱心", "heart", "HEART 白色", "挂饰 hanging"):
        response = api_client.get("/api/v1/listings", {"q": query})
        assert response.status_code == 200
        assert [item["id"] for item in response.json()["results"]] == [listing.pk], query
    assert api_client.get("/api/v1/listings", {"q": "蜡烛"}).json()["count"] == 0
    assert api_client.get("/api/v1/listings", {"page": "x"}).json()["code"] == "invalid"
    assert api_client.get("/api/v1/listings", {"min_price": "-5"}).status_code == 400
    detail = api_client.get(f"/api/v1/listings/{listing.pk}")
    assert detail.status_code == 200 and detail.json()["available"] == 100
