"""Points and member privileges at checkout, through the mall's adjustment hook, with real orders, payments and
refunds: the cap, never more than payable, the hold with the order, a cancel gives the points back, a partial refund
gives back the refunded share, levels give their discount and free shipping."""
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Role
from engagement.models import LedgerEntry, SpendHold
from engagement.services import checkins
from mall.models import Order
from mall.services import after_sales, orders
from supply.models import Stock
from tests.engagement.conftest import at, balance, rules_run
from tests.engagement.factories import MemberLevelFactory, TaskRuleFactory
from tests.factories import (
    AddressFactory,
    AuthSessionFactory,
    ListingFactory,
    ProductFactory,
    ShippingRateFactory,
    SKUFactory,
    UserFactory,
)
from tests.mall.conftest import pay, send_refunds

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop():
    """A listing at 50.00 (shipping 10.00 for the first kg, free from 99.00), a buyer with an address and a client."""
    rate = ShippingRateFactory()
    listing = ListingFactory(price=Decimal("50.00"), sku=SKUFactory(product=ProductFactory(
        supplier=rate.template.supplier, shipping_template=rate.template)))
    buyer = UserFactory()
    client = APIClient(HTTP_AUTHORIZATION=f"Token {AuthSessionFactory(user=buyer).issued_access_token}")
    return {"listing": listing, "buyer": buyer, "address": AddressFactory(user=buyer), "client": client}


def give(user, points: int = 0, experience: int = 0) -> None:
    if points:
        TaskRuleFactory(code="gift-points", reward_amount=points)
    if experience:
        TaskRuleFactory(code="gift-experience", reward_amount=experience, currency="experience")
    checkins.check_in(user=user, at=at(1))
    rules_run()


def body(shop, quantity: int, key: str = "points-order-1", **extra) -> dict:
    return {"lines": [{"listing_id": shop["listing"].pk, "quantity": quantity}], "address_id": shop["address"].pk,
            "idempotency_key": key, **extra}


def test_points_pay_at_most_the_configured_share_and_the_order_holds_them(shop):
    give(shop["buyer"], points=20_000)
    client = shop["client"]
    refused = client.post("/api/v1/checkout/preview", body(shop, 2, adjustments={"points": 5_001}), format="json")
    assert (refused.status_code, refused.json()["code"]) == (422, "points_over_cap")
    assert refused.json()["detail"] == {"max_points": 5_000}  # half of 100.00, at 100 points a yuan
    preview = client.post("/api/v1/checkout/preview", body(shop, 2, adjustments={"points": 5_000}), format="json")
    assert preview.status_code == 200
    assert (preview.json()["total"], preview.json()["discount_total"]) == ("50.00", "50.00")
    assert preview.json()["adjustments"] == [{"source": "points", "label": "积分抵扣 5000 points",
                                              "goods_off": "50.00", "shipping_off": "0.00", "data": {"points": 5000}}]
    submitted = client.post("/api/v1/orders", body(shop, 2, adjustments={"points": 5_000}), format="json")
    assert submitted.status_code == 201
    order = Order.objects.get(pk=submitted.json()["id"])
    assert (order.total, order.discount_total) == (Decimal("50.00"), Decimal("50.00"))
    assert sum(line.discount_share for line in order.lines.all()) == Decimal("50.00")
    assert order.adjustments[0]["data"] == {"points": 5000}
    assert SpendHold.objects.get(reference=f"order:{order.pk}").amount == 5_000
    assert balance(shop["buyer"]) == (20_000, 5_000, 0)
    again = client.post("/api/v1/orders", body(shop, 2, adjustments={"points": 5_000}), format="json")
    assert (again.status_code, again.json()["id"]) == (200, order.pk)  # the retried submit holds nothing more
    assert balance(shop["buyer"]) == (20_000, 5_000, 0)


def test_points_never_pay_the_whole_order(shop, settings):
    settings.ENGAGEMENT_POINTS_MAX_SHARE = Decimal("1")
    give(shop["buyer"], points=20_000)
    client = shop["client"]
    refused = client.post("/api/v1/checkout/preview", body(shop, 1, adjustments={"points": 6_000}), format="json")
    assert refused.json()["detail"] == {"max_points": 5_000}  # the goods cost 50.00; shipping is not for points
    submitted = client.post("/api/v1/orders", body(shop, 2, adjustments={"points": 9_999}), format="json")
    assert submitted.status_code == 201
    assert submitted.json()["total"] == "0.01"


def test_more_points_than_the_buyer_has_is_refused_and_nothing_is_placed(shop):
    give(shop["buyer"], points=100)
    response = shop["client"].post("/api/v1/orders", body(shop, 2, adjustments={"points": 200}), format="json")
    assert (response.status_code, response.json()["code"]) == (422, "points_insufficient")
    assert response.json()["detail"] == {"available": 100, "asked": 200}
    assert not Order.objects.exists()
    assert Stock.objects.get(sku=shop["listing"].sku).reserved == 0
    assert balance(shop["buyer"]) == (100, 0, 0)


@pytest.mark.parametrize("option,code", [(0, "points_invalid"), ("100", "points_invalid"), (True, "points_invalid"),
                                         ([100], "points_invalid")])
def test_malformed_points_are_a_400(shop, option, code):
    response = shop["client"].post("/api/v1/checkout/preview", body(shop, 1, adjustments={"points": option}),
                                   format="json")
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_unknown_adjustments_are_refused(shop):
    client = shop["client"]
    response = client.post("/api/v1/checkout/preview", body(shop, 1, adjustments={"member_level": 1}), format="json")
    assert (response.status_code, response.json()["code"]) == (400, "adjustment_unknown")
    response = client.post("/api/v1/checkout/preview", body(shop, 1, adjustments=[1]), format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_a_cancelled_order_gives_its_points_back(shop):
    give(shop["buyer"], points=10_000)
    order, _created = orders.order_submit(buyer=shop["buyer"], lines=[{"listing_id": shop["listing"].pk,
                                                                       "quantity": 2}],
                                          address_id=shop["address"].pk, idempotency_key="cancel-me-001",
                                          adjustments={"points": 3_000})
    rules_run()  # the engine debits the hold
    assert balance(shop["buyer"]) == (7_000, 0, 0)
    orders.order_cancel(order_id=order.pk, buyer=shop["buyer"])
    rules_run()
    assert balance(shop["buyer"]) == (10_000, 0, 0)
    assert SpendHold.objects.get(reference=f"order:{order.pk}").status == SpendHold.Status.RELEASED
    kinds = list(LedgerEntry.objects.filter(reference=f"order:{order.pk}").order_by("pk").values_list("kind",
                                                                                                       "amount"))
    assert kinds == [("spend", -3_000), ("restore", 3_000)]


def test_a_partial_refund_gives_back_the_refunded_share_of_the_points(shop):
    give(shop["buyer"], points=10_000)
    other = ListingFactory(store=shop["listing"].store, price=Decimal("50.00"), sku=SKUFactory(
        product=ProductFactory(supplier=shop["listing"].sku.product.supplier,
                               shipping_template=shop["listing"].sku.product.shipping_template)))
    order, _created = orders.order_submit(
        buyer=shop["buyer"], lines=[{"listing_id": shop["listing"].pk, "quantity": 1},
                                    {"listing_id": other.pk, "quantity": 1}],
        address_id=shop["address"].pk, idempotency_key="refund-me-01", adjustments={"points": 5_000})
    assert [line.paid_amount for line in order.lines.order_by("pk")] == [Decimal("25.00"), Decimal("25.00")]
    pay(order)
    rules_run()
    assert balance(shop["buyer"]) == (5_000, 0, 0)
    first = order.lines.order_by("pk").first()
    request = after_sales.after_sale_request(buyer=shop["buyer"], order_id=order.pk, line_id=first.pk,
                                             kind="refund_only", quantity=1, reason="不要了")
    after_sales.after_sale_approve(after_sale_id=request.pk, store=order.store, actor=order.store.owner)
    send_refunds()  # 25.00 of the 50.00 paid for the goods goes back
    rules_run()
    assert balance(shop["buyer"]) == (7_500, 0, 0)  # half of the 5,000 points
    second = order.lines.order_by("pk").last()
    request = after_sales.after_sale_request(buyer=shop["buyer"], order_id=order.pk, line_id=second.pk,
                                             kind="refund_only", quantity=1, reason="也不要了")
    after_sales.after_sale_approve(after_sale_id=request.pk, store=order.store, actor=order.store.owner)
    send_refunds()
    rules_run()
    assert balance(shop["buyer"]) == (10_000, 0, 0)


def test_a_level_gives_its_discount_and_free_shipping(shop):
    MemberLevelFactory(rank=1, min_experience=0)
    MemberLevelFactory(rank=2, min_experience=500, discount_percent=5, free_shipping=True, name="金卡会员")
    give(shop["buyer"], experience=600)
    preview = shop["client"].post("/api/v1/checkout/preview", body(shop, 1), format="json").json()
    # 50.00 of goods and 10.00 of shipping: 5 % off the goods (2.50) and the shipping waived
    assert (preview["discount_total"], preview["shipping_fee"], preview["total"]) == ("2.50", "0.00", "47.50")
    assert preview["adjustments"] == [{"source": "member_level", "label": "会员权益 金卡会员", "goods_off": "2.50",
                                       "shipping_off": "10.00",
                                       "data": {"level": 2, "discount_percent": 5, "free_shipping": True}}]
    order = Order.objects.get(pk=shop["client"].post("/api/v1/orders", body(shop, 1), format="json").json()["id"])
    assert (order.shipping_fee, order.total) == (Decimal("0.00"), Decimal("47.50"))
    assert list(order.shipments.values_list("shipping_fee", flat=True)) == [Decimal("0.00")]


def test_a_level_without_privileges_changes_nothing(shop):
    MemberLevelFactory(rank=1, min_experience=0)
    give(shop["buyer"], experience=10)
    preview = shop["client"].post("/api/v1/checkout/preview", body(shop, 1), format="json").json()
    assert (preview["total"], preview["adjustments"]) == ("60.00", [])


def test_a_submit_with_points_adds_a_pinned_number_of_statements(shop):
    give(shop["buyer"], points=10_000)
    with CaptureQueriesContext(connection) as plain:
        assert shop["client"].post("/api/v1/orders", body(shop, 1, key="plain-order-1"), format="json").status_code \
            == 201
    with CaptureQueriesContext(connection) as with_points:
        assert shop["client"].post("/api/v1/orders", body(shop, 1, key="points-order-2",
                                                          adjustments={"points": 1_000}),
                                   format="json").status_code == 201
    # the quote's balance read, the account's lock (with its lots due), the guarded update, the hold, the
    # ledger_spent event
    assert len(with_points.captured_queries) - len(plain.captured_queries) == 5, [
        q["sql"][:80] for q in with_points.captured_queries]


def test_the_operator_sees_an_orders_adjustments(shop, client):
    give(shop["buyer"], points=10_000)
    order, _created = orders.order_submit(buyer=shop["buyer"], lines=[{"listing_id": shop["listing"].pk,
                                                                       "quantity": 2}],
                                          address_id=shop["address"].pk, idempotency_key="admin-sees-01",
                                          adjustments={"points": 2_000})
    client.force_login(UserFactory(role=Role.OPERATOR, is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:mall_order_change", args=[order.pk])).content.decode()
    assert "积分抵扣 2000 points: −¥20.00" in page
