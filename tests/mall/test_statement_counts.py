"""The checkout's SQL statements are pinned: a 2-line submit and its payment, over the API with a real token, so
a change that adds a query per line or reads back what it just wrote shows up here (bench/checkout.py prints the
same counts). BEGIN/COMMIT are not statements Django reports, the test's savepoint pair is."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers
from rest_framework.test import APIClient

from mall.api.serializers import OrderOutput
from mall.models import Order
from mall.selectors import order_details
from tests.factories import AuthSessionFactory, ListingFactory, ProductFactory, SKUFactory

pytestmark = pytest.mark.django_db

SUBMIT_STATEMENTS = 15  # token, idempotency key, listings, address, pricing, shipping, the buyer's member level
                        # (a checkout adjustment: every order of a member gets its privileges, so it is read once;
                        # a primary-key lookup), order, shipments, lines, stock, order event, behaviour event + the
                        # savepoint pair. An order without points adds nothing else.
PAY_STATEMENTS = 15  # token, order, payment by transaction id, order's promotion, lock, payment, order, order
                     # events, lines, stock, behaviour event, its outbox rows (the commission handler of cards),
                     # shipments + the savepoint pair


@pytest.fixture
def two_listings(store, supplier, listing):
    other = ListingFactory(store=store, sku=SKUFactory(product=ProductFactory(
        supplier=supplier, shipping_template=supplier.rate.template)))
    return listing, other


def test_a_two_line_submit_and_its_payment_run_a_pinned_number_of_statements(buyer, address, two_listings):
    client = APIClient(HTTP_AUTHORIZATION=f"Token {AuthSessionFactory(user=buyer).issued_access_token}")
    first, second = two_listings
    body = {"lines": [{"listing_id": first.pk, "quantity": 1}, {"listing_id": second.pk, "quantity": 2}],
            "address_id": address.pk, "idempotency_key": "statements-0001"}
    with CaptureQueriesContext(connection) as submit:
        response = client.post("/api/v1/orders", body, format="json")
    assert response.status_code == 201
    with CaptureQueriesContext(connection) as pay:
        paid = client.post(f"/api/v1/orders/{response.json()['id']}/simulated-pay")
    assert paid.status_code == 200 and paid.json()["payment_status"] == "paid"
    assert len(submit.captured_queries) <= SUBMIT_STATEMENTS, [q["sql"][:100] for q in submit.captured_queries]
    assert len(pay.captured_queries) <= PAY_STATEMENTS, [q["sql"][:100] for q in pay.captured_queries]
    # the member level is the only thing the checkout adjustments read for an order that uses no points
    assert [q["sql"][:40] for q in submit.captured_queries if "engagement_" in q["sql"]] == [
        'SELECT "engagement_membership"."user_id"']
    assert not any("engagement_" in q["sql"] for q in pay.captured_queries)
    # one statement moves the stock of every line, whatever the number of lines
    assert sum("supply_stock" in q["sql"] for q in submit.captured_queries) == 1
    assert sum("supply_stock" in q["sql"] for q in pay.captured_queries) == 1


def test_the_fast_order_document_is_the_declared_one(buyer, address, two_listings):
    from tests.mall.conftest import pay, place

    order = pay(place(buyer, address, two_listings[0], quantity=2))
    order = order_details(Order.objects.get(pk=order.pk))
    generic = serializers.Serializer.to_representation(OrderOutput(), order)
    assert OrderOutput(order).data == generic
