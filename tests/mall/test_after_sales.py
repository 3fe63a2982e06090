"""After-sales (售后): refund arithmetic, refund-only and return flows, order axes, stock, coupon, window, API."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import BehaviourEvent
from mall.models import AfterSale, Order, OrderEvent, OrderLine, Refund, Shipment, UserCoupon
from mall.services import after_sales, coupons, orders, refunds
from supply.models import Stock
from tests.factories import (
    AddressFactory,
    CouponTemplateFactory,
    ListingFactory,
    ProductFactory,
    SKUFactory,
    StoreFactory,
    UserFactory,
)
from tests.mall.conftest import pay, send_refunds

D = Decimal


def make_listing(store, supplier, price: str, weight_grams: int = 500):
    sku = SKUFactory(product=ProductFactory(supplier=supplier, shipping_template=supplier.rate.template),
                     cost_price=D("5.00"), floor_price=D("10.00"), suggested_price=D("99.00"),
                     weight_grams=weight_grams)
    return ListingFactory(store=store, sku=sku, price=D(price))


def paid_order(buyer, address, lines, key="after-sale-order-1", coupon_id=None) -> Order:
    order, _ = orders.order_submit(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": quantity}
                                                       for listing, quantity in lines],
                                   address_id=address.pk, idempotency_key=key, coupon_id=coupon_id)
    return pay(order)


def ship(order) -> None:
    for shipment in order.shipments.all():
        orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier, carrier="SF",
                             tracking_number="SF123")


def deliver(order) -> None:
    ship(order)
    for shipment in order.shipments.all():
        orders.shipment_deliver(shipment_id=shipment.pk)


def request(order, line, kind="refund_only", quantity=1, reason="不想要了"):
    return after_sales.after_sale_request(buyer=order.buyer, order_id=order.pk, line_id=line.pk, kind=kind,
                                          quantity=quantity, reason=reason)


def approve(after_sale):
    order = Order.objects.get(pk=after_sale.order_id)
    return after_sales.after_sale_approve(after_sale_id=after_sale.pk, store=order.store, actor=order.store.owner)


def stock_of(listing) -> tuple[int, int, int]:
    stock = Stock.objects.get(sku=listing.sku)
    return stock.available, stock.reserved, stock.sold


def money_state(order) -> tuple:
    order = Order.objects.get(pk=order.pk)
    return (order.status, order.payment_status, order.after_sale_status, order.refunded_total,
            [(line.refunded_quantity, line.refunded_amount) for line in order.lines.order_by("pk")],
            Refund.objects.filter(order=order).count(), AfterSale.objects.filter(order=order).count())


# --- pure arithmetic --------------------------------------------------------------------------------------------
def in_memory_line(*, paid: str, quantity: int, refunded_quantity=0, refunded_amount="0", shipping="0.00",
                   order_refunded="0.00", total=None) -> OrderLine:
    order = Order(shipping_fee=D(shipping), total=D(total) if total else D(paid) + D(shipping),
                  refunded_total=D(order_refunded))
    return OrderLine(order=order, quantity=quantity, paid_amount=D(paid), refunded_quantity=refunded_quantity,
                     refunded_amount=D(refunded_amount))


def amount_for(*, line: OrderLine, quantity: int, include_shipping: bool):
    goods = refunds.refund_goods_amount(line=line, quantity=quantity)
    return refunds.refund_amount(order=line.order, goods=goods, include_shipping=include_shipping)


def test_units_refund_their_prorated_share_and_the_last_units_take_the_remainder():
    line = in_memory_line(paid="100.00", quantity=3)
    parts = []
    for _ in range(3):
        part = amount_for(line=line, quantity=1, include_shipping=False)
        parts.append(part)
        line.refunded_quantity += 1
        line.refunded_amount += part
        line.order.refunded_total += part
    assert parts == [D("33.33"), D("33.33"), D("33.34")]
    assert sum(parts) == D("100.00")

    line = in_memory_line(paid="47.98", quantity=3)
    two = amount_for(line=line, quantity=2, include_shipping=False)
    assert two == D("31.99")  # 47.98 x 2 / 3 = 31.986..., half-up
    line.refunded_quantity, line.refunded_amount, line.order.refunded_total = 2, two, two
    assert amount_for(line=line, quantity=1, include_shipping=False) == D("15.99")


def test_shipping_is_added_when_asked_and_the_refund_never_exceeds_what_the_order_still_holds():
    line = in_memory_line(paid="50.00", quantity=1, shipping="10.00")
    assert amount_for(line=line, quantity=1, include_shipping=True) == D("60.00")
    assert amount_for(line=line, quantity=1, include_shipping=False) == D("50.00")
    capped = in_memory_line(paid="50.00", quantity=2, shipping="10.00", order_refunded="55.00")
    assert amount_for(line=capped, quantity=2, include_shipping=True) == D("5.00")
    with pytest.raises(ValueError):
        amount_for(line=in_memory_line(paid="50.00", quantity=2, refunded_quantity=2),
                                      quantity=1, include_shipping=False)


def test_the_coupon_share_is_prorated_and_refunds_add_up_to_what_was_paid(store, supplier, buyer, address):
    sixty, forty = make_listing(store, supplier, "20.00"), make_listing(store, supplier, "40.00")
    template = CouponTemplateFactory(store=store)  # 满100减20
    coupon = coupons.coupon_claim(user=buyer, template_id=template.pk)
    order = paid_order(buyer, address, [(sixty, 3), (forty, 1)], coupon_id=coupon.pk)
    line_a, line_b = order.lines.get(listing=sixty), order.lines.get(listing=forty)
    assert (line_a.line_subtotal, line_a.discount_share, line_a.paid_amount) == (D("60.00"), D("12.00"), D("48.00"))
    assert (line_b.line_subtotal, line_b.discount_share, line_b.paid_amount) == (D("40.00"), D("8.00"), D("32.00"))
    assert order.shipping_fee == 0 and order.total == D("80.00")

    one = request(order, line_a, quantity=1)
    assert one.refund_amount == D("16.00")
    approve(one)
    two = request(order, line_a, quantity=2)
    assert two.refund_amount == D("32.00")
    approve(two)
    last = request(order, line_b, quantity=1)
    assert last.refund_amount == D("32.00")
    approve(last)
    assert sum(Refund.objects.filter(order=order).values_list("amount", flat=True)) == D("80.00")
    order.refresh_from_db()
    assert order.refunded_total == order.total == D("80.00")
    assert [(line.refunded_quantity, line.refunded_amount) for line in order.lines.order_by("pk")] == [
        (3, D("48.00")), (1, D("32.00"))]


# --- refund only ------------------------------------------------------------------------------------------------
def test_approving_a_refund_only_request_refunds_books_and_records_it(store, supplier, buyer, address):
    listing = make_listing(store, supplier, "35.00")
    order = paid_order(buyer, address, [(listing, 2)])  # 70.00 + 10.00 shipping (1 kg)
    assert order.total == D("80.00")
    line = order.lines.get()
    after_sale = request(order, line, quantity=1)
    assert after_sale.status == AfterSale.Status.REQUESTED and after_sale.refund_amount == D("35.00")
    order.refresh_from_db()
    assert order.after_sale_status == Order.AfterSaleStatus.IN_PROGRESS

    approve(after_sale)
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REFUNDED and after_sale.refunded_at and after_sale.decided_at
    refund = Refund.objects.get(order=order)
    assert (refund.amount, refund.reference, refund.status) == (D("35.00"), f"after-sale:{after_sale.pk}",
                                                                Refund.Status.PENDING)  # sent after commit
    assert send_refunds() == [Refund.Status.SUCCEEDED]
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED and refund.provider_refund_id.startswith("sim-refund-")
    order.refresh_from_db()
    assert order.refunded_total == D("35.00")
    assert (order.status, order.payment_status, order.after_sale_status) == (
        Order.Status.PAID, Order.PaymentStatus.PARTIALLY_REFUNDED, Order.AfterSaleStatus.PARTIALLY_REFUNDED)
    line.refresh_from_db()
    assert (line.refunded_quantity, line.refunded_amount) == (1, D("35.00"))
    assert stock_of(listing) == (99, 0, 1)  # nothing had shipped: the unit is sellable again
    kinds = set(BehaviourEvent.objects.values_list("kind", flat=True))
    assert {"after_sale_requested", "after_sale_approved", "after_sale_refunded", "refund_succeeded"} <= kinds
    assert set(OrderEvent.objects.filter(order=order, axis__in=["payment_status", "after_sale_status"])
               .values_list("axis", "to_state")) == {
        ("payment_status", "paid"), ("payment_status", "partially_refunded"),
        ("after_sale_status", "in_progress"), ("after_sale_status", "partially_refunded")}

    rest = request(order, line, quantity=1)
    assert rest.refund_amount == D("45.00")  # the last unit, and nothing shipped: shipping comes back too
    approve(rest)
    order.refresh_from_db()
    assert order.refunded_total == order.total
    assert (order.status, order.payment_status, order.after_sale_status) == (
        Order.Status.CLOSED, Order.PaymentStatus.REFUNDED, Order.AfterSaleStatus.REFUNDED)
    assert stock_of(listing) == (100, 0, 0)


def test_shipping_is_refunded_for_a_full_refund_before_shipping_only(store, supplier, buyer, address):
    listing = make_listing(store, supplier, "50.00")
    before = paid_order(buyer, address, [(listing, 1)], key="before-ship-01")
    assert before.total == D("60.00")
    first = request(before, before.lines.get())
    assert first.refund_amount == D("60.00")
    approve(first)
    assert Order.objects.get(pk=before.pk).refunded_total == D("60.00")

    after = paid_order(buyer, address, [(listing, 1)], key="after-ship-001")
    ship(after)
    second = request(after, after.lines.get())
    assert second.refund_amount == D("50.00")
    approve(second)
    after.refresh_from_db()
    assert after.refunded_total == D("50.00")
    assert (after.status, after.payment_status) == (Order.Status.CLOSED, Order.PaymentStatus.PARTIALLY_REFUNDED)
    assert stock_of(listing) == (99, 0, 1)  # the first unit came back; the shipped one is with the shopper


def test_a_shipment_leaving_between_request_and_approval_keeps_the_shipping(store, supplier, buyer, address):
    listing = make_listing(store, supplier, "50.00")
    order = paid_order(buyer, address, [(listing, 1)])
    after_sale = request(order, order.lines.get())
    assert after_sale.refund_amount == D("60.00")
    ship(order)
    approve(after_sale)
    after_sale.refresh_from_db()
    assert after_sale.refund_amount == D("50.00") == Refund.objects.get(order=order).amount
    assert stock_of(listing) == (99, 0, 1)


def test_a_refund_never_exceeds_what_was_paid(store, supplier, buyer, address):
    listing = make_listing(store, supplier, "35.00")
    order = paid_order(buyer, address, [(listing, 2)])
    line = order.lines.get()
    first = request(order, line, quantity=2)
    before = money_state(order)
    with pytest.raises(Exception) as open_already:
        request(order, line, quantity=1)
    assert open_already.value.code == "after_sale_already_open"
    assert money_state(order) == before
    approve(first)
    before = money_state(order)
    with pytest.raises(Exception) as exceeded:
        request(order, line, quantity=1)
    assert exceeded.value.code in {"after_sale_quantity_exceeded", "after_sale_not_allowed"}
    assert money_state(order) == before


def test_the_quantity_left_bounds_a_second_request(store, supplier, buyer, address):
    listing = make_listing(store, supplier, "35.00")
    order = paid_order(buyer, address, [(listing, 3)])
    line = order.lines.get()
    approve(request(order, line, quantity=2))
    before = money_state(order)
    with pytest.raises(Exception) as exceeded:
        request(order, line, quantity=2)
    assert exceeded.value.code == "after_sale_quantity_exceeded" and exceeded.value.detail == {"available": 1}
    assert money_state(order) == before


def test_a_full_refund_closes_the_order_and_gives_the_coupon_back(store, supplier, buyer, address):
    sixty, forty = make_listing(store, supplier, "60.00"), make_listing(store, supplier, "40.00")
    coupon = coupons.coupon_claim(user=buyer, template_id=CouponTemplateFactory(store=store).pk)
    order = paid_order(buyer, address, [(sixty, 1), (forty, 1)], coupon_id=coupon.pk)
    assert UserCoupon.objects.get(pk=coupon.pk).status == UserCoupon.Status.USED
    approve(request(order, order.lines.get(listing=sixty)))
    assert UserCoupon.objects.get(pk=coupon.pk).status == UserCoupon.Status.USED
    approve(request(order, order.lines.get(listing=forty)))
    order.refresh_from_db()
    assert order.status == Order.Status.CLOSED and order.refunded_total == D("80.00")
    coupon.refresh_from_db()
    assert coupon.status == UserCoupon.Status.AVAILABLE and coupon.order_id is None


def test_refusing_or_withdrawing_puts_the_after_sale_axis_back(store, supplier, buyer, address):
    listing = make_listing(store, supplier, "35.00")
    order = paid_order(buyer, address, [(listing, 3)])
    line = order.lines.get()
    refused = request(order, line)
    after_sales.after_sale_refuse(after_sale_id=refused.pk, store=store, actor=store.owner, note="已发货，请走退货")
    refused.refresh_from_db()
    assert refused.status == AfterSale.Status.REFUSED and refused.merchant_note == "已发货，请走退货"
    assert Order.objects.get(pk=order.pk).after_sale_status == Order.AfterSaleStatus.NONE

    approve(request(order, line))
    withdrawn = request(order, line)
    assert Order.objects.get(pk=order.pk).after_sale_status == Order.AfterSaleStatus.IN_PROGRESS
    after_sales.after_sale_withdraw(buyer=buyer, after_sale_id=withdrawn.pk)
    assert AfterSale.objects.get(pk=withdrawn.pk).status == AfterSale.Status.WITHDRAWN
    assert Order.objects.get(pk=order.pk).after_sale_status == Order.AfterSaleStatus.PARTIALLY_REFUNDED
    before = money_state(order)
    with pytest.raises(Exception) as again:
        after_sales.after_sale_withdraw(buyer=buyer, after_sale_id=withdrawn.pk)
    assert again.value.code == "after_sale_state_invalid"
    assert money_state(order) == before


def test_another_stores_merchant_cannot_decide(store, supplier, buyer, address):
    listing = make_listing(store, supplier, "35.00")
    order = paid_order(buyer, address, [(listing, 1)])
    after_sale = request(order, order.lines.get())
    other = StoreFactory()
    before = money_state(order)
    for action in (lambda: after_sales.after_sale_approve(after_sale_id=after_sale.pk, store=other, actor=other.owner),
                   lambda: after_sales.after_sale_refuse(after_sale_id=after_sale.pk, store=other, actor=other.owner,
                                                         note="no"),
                   lambda: after_sales.after_sale_confirm_return(after_sale_id=after_sale.pk, store=other,
                                                                 actor=other.owner)):
        with pytest.raises(Exception) as refused:
            action()
        assert refused.value.code == "after_sale_not_found"
    assert money_state(order) == before
    assert AfterSale.objects.get(pk=after_sale.pk).status == AfterSale.Status.REQUESTED


def test_an_unpaid_order_cannot_be_refunded(store, supplier, buyer, address):
    listing = make_listing(store, supplier, "35.00")
    order, _ = orders.order_submit(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": 1}],
                                   address_id=address.pk, idempotency_key="unpaid-order-01")
    with pytest.raises(Exception) as refused:
        request(order, order.lines.get())
    assert refused.value.code == "after_sale_not_allowed"
    assert AfterSale.objects.count() == 0


# --- returns ----------------------------------------------------------------------------------------------------
def test_a_return_restocks_only_when_the_store_confirms_it(store, supplier, buyer, address):
    listing = make_listing(store, supplier, "35.00")
    order = paid_order(buyer, address, [(listing, 2)])
    line = order.lines.get()
    with pytest.raises(Exception) as not_yet:
        request(order, line, kind="return_refund")
    assert not_yet.value.code == "after_sale_not_delivered"
    deliver(order)
    after_sale = request(order, line, kind="return_refund", quantity=1)
    assert after_sale.refund_amount == D("35.00")
    approve(after_sale)
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.AWAITING_RETURN
    assert Refund.objects.count() == 0
    with pytest.raises(Exception) as early:
        after_sales.after_sale_confirm_return(after_sale_id=after_sale.pk, store=store, actor=store.owner)
    assert early.value.code == "after_sale_state_invalid"
    after_sales.after_sale_return_ship(buyer=buyer, after_sale_id=after_sale.pk, carrier="顺丰",
                                       tracking_number="SF1000")
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.return_tracking_number) == (AfterSale.Status.RETURN_SHIPPED, "SF1000")
    assert stock_of(listing) == (98, 0, 2)
    assert Refund.objects.count() == 0

    after_sales.after_sale_confirm_return(after_sale_id=after_sale.pk, store=store, actor=store.owner)
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REFUNDED
    assert stock_of(listing) == (99, 0, 1)
    assert Refund.objects.get(order=order).amount == D("35.00")
    order.refresh_from_db()
    assert (order.status, order.payment_status, order.after_sale_status) == (
        Order.Status.DELIVERED, Order.PaymentStatus.PARTIALLY_REFUNDED, Order.AfterSaleStatus.PARTIALLY_REFUNDED)


def test_the_window_closes_seven_days_after_delivery(store, supplier, buyer, address):
    listing = make_listing(store, supplier, "35.00")
    order = paid_order(buyer, address, [(listing, 1)])
    deliver(order)
    Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now() - timedelta(days=7, minutes=1))
    for kind in ("refund_only", "return_refund"):
        with pytest.raises(Exception) as closed:
            request(order, order.lines.get(), kind=kind)
        assert closed.value.code == "after_sale_window_closed"
    assert AfterSale.objects.count() == 0
    Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now() - timedelta(days=6, hours=23))
    assert request(order, order.lines.get(), kind="return_refund").status == AfterSale.Status.REQUESTED


# --- API --------------------------------------------------------------------------------------------------------
@pytest.fixture
def shop_order(store, supplier, shopper):
    listing = make_listing(store, supplier, "35.00")
    return paid_order(shopper, AddressFactory(user=shopper), [(listing, 2)])


def test_a_shopper_asks_follows_and_withdraws_through_the_api(shopper_client, shop_order):
    line = shop_order.lines.get()
    created = shopper_client.post(f"/api/v1/orders/{shop_order.pk}/after-sales",
                                  {"line_id": line.pk, "kind": "return_refund", "quantity": 1, "reason": "尺码不合适"},
                                  format="json")
    assert created.status_code == 422 and created.json()["code"] == "after_sale_not_delivered"
    created = shopper_client.post(f"/api/v1/orders/{shop_order.pk}/after-sales",
                                  {"line_id": line.pk, "kind": "refund_only", "quantity": 1, "reason": "不想要了"},
                                  format="json")
    assert created.status_code == 201
    body = created.json()
    assert (body["status"], body["refund_amount"], body["order_number"]) == ("requested", "35.00", shop_order.number)
    listed = shopper_client.get("/api/v1/after-sales")
    assert listed.status_code == 200 and [item["id"] for item in listed.json()["results"]] == [body["id"]]
    assert shopper_client.get(f"/api/v1/after-sales/{body['id']}").json()["id"] == body["id"]
    shipped = shopper_client.post(f"/api/v1/after-sales/{body['id']}/return-shipment",
                                  {"carrier": "顺丰", "tracking_number": "SF1000"}, format="json")
    assert shipped.status_code == 409 and shipped.json()["code"] == "after_sale_state_invalid"
    withdrawn = shopper_client.post(f"/api/v1/after-sales/{body['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert Order.objects.get(pk=shop_order.pk).after_sale_status == "none"


def test_the_return_shipment_goes_through_the_api(shopper_client, shop_order):
    deliver(shop_order)
    after_sale = request(shop_order, shop_order.lines.get(), kind="return_refund")
    approve(after_sale)
    bad = shopper_client.post(f"/api/v1/after-sales/{after_sale.pk}/return-shipment", {"carrier": "顺丰"},
                              format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    assert AfterSale.objects.get(pk=after_sale.pk).status == AfterSale.Status.AWAITING_RETURN
    shipped = shopper_client.post(f"/api/v1/after-sales/{after_sale.pk}/return-shipment",
                                  {"carrier": "顺丰", "tracking_number": "SF1000"}, format="json")
    assert shipped.status_code == 200 and shipped.json()["status"] == "return_shipped"


@pytest.mark.parametrize(("payload", "status", "code"), [
    ({"line_id": "abc", "kind": "refund_only", "quantity": 1, "reason": "x"}, 400, "invalid"),
    ({"line_id": "LINE", "kind": "refund_only", "quantity": -1, "reason": "x"}, 400, "invalid"),
    ({"line_id": "LINE", "kind": "refund_only", "quantity": 0, "reason": "x"}, 400, "invalid"),
    ({"line_id": "LINE", "kind": "refund_only", "quantity": "two", "reason": "x"}, 400, "invalid"),
    ({"line_id": "LINE", "kind": "refund_only", "quantity": 1.5, "reason": "x"}, 400, "invalid"),
    ({"line_id": "LINE", "kind": "swap", "quantity": 1, "reason": "x"}, 400, "invalid"),
    ({"line_id": "LINE", "kind": "refund_only", "quantity": 1, "reason": ""}, 400, "invalid"),
    ({"line_id": "LINE", "kind": "refund_only", "quantity": 1}, 400, "invalid"),
    ({"line_id": "LINE", "kind": "refund_only", "quantity": 1, "reason": "x" * 201}, 400, "invalid"),
    ({"line_id": 2**70, "kind": "refund_only", "quantity": 1, "reason": "x"}, 400, "invalid"),
    ({"line_id": 999_999, "kind": "refund_only", "quantity": 1, "reason": "x"}, 404, "order_line_not_found"),
    ({"line_id": "LINE", "kind": "refund_only", "quantity": 3, "reason": "x"}, 422, "after_sale_quantity_exceeded"),
    ([1, 2, 3], 400, "invalid"),
])
def test_malformed_requests_get_a_stable_code_and_change_nothing(shopper_client, shop_order, payload, status, code):
    if isinstance(payload, dict) and payload.get("line_id") == "LINE":
        payload = {**payload, "line_id": shop_order.lines.get().pk}
    before = money_state(shop_order)
    response = shopper_client.post(f"/api/v1/orders/{shop_order.pk}/after-sales", payload, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert money_state(shop_order) == before and AfterSale.objects.count() == 0


def test_unknown_or_someone_elses_order_is_not_found(shopper_client, api_client, shop_order, store, supplier):
    stranger = UserFactory()
    theirs = paid_order(stranger, AddressFactory(user=stranger), [(make_listing(store, supplier, "35.00"), 1)],
                        key="stranger-order-1")
    payload = {"line_id": theirs.lines.get().pk, "kind": "refund_only", "quantity": 1, "reason": "x"}
    for order_id in (theirs.pk, 999_999):
        response = shopper_client.post(f"/api/v1/orders/{order_id}/after-sales", payload, format="json")
        assert response.status_code == 404 and response.json()["code"] == "order_not_found"
    # a line of another order, under my order
    response = shopper_client.post(f"/api/v1/orders/{shop_order.pk}/after-sales", payload, format="json")
    assert response.status_code == 404 and response.json()["code"] == "order_line_not_found"
    assert AfterSale.objects.count() == 0

    theirs_request = request(theirs, theirs.lines.get())
    for url in (f"/api/v1/after-sales/{theirs_request.pk}", "/api/v1/after-sales/999999"):
        response = shopper_client.get(url)
        assert response.status_code == 404 and response.json()["code"] == "after_sale_not_found"
    response = shopper_client.post(f"/api/v1/after-sales/{theirs_request.pk}/withdraw")
    assert response.status_code == 404 and response.json()["code"] == "after_sale_not_found"
    assert AfterSale.objects.get(pk=theirs_request.pk).status == AfterSale.Status.REQUESTED
    assert shopper_client.get("/api/v1/after-sales").json()["results"] == []
    assert api_client.get("/api/v1/after-sales").status_code == 401
    assert Shipment.objects.filter(order=theirs).get().status == Shipment.Status.PENDING
