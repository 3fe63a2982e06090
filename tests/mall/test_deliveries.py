"""Deliveries: the Kuaidi100 tracking push (the test is Kuaidi100: it POSTs real signed pushes), the supplier
console's "mark delivered", and the whole chain to 自动确认收货."""
import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import Role
from core.models import BehaviourEvent
from mall.models import Order, OrderEvent, Shipment
from mall.services import orders, tracking
from mall.tasks import orders_auto_confirm_task
from tests.factories import (
    ListingFactory,
    ProductFactory,
    ShippingRateFactory,
    SKUFactory,
    SupplierFactory,
    UserFactory,
)
from tests.mall.conftest import pay, place

pytestmark = pytest.mark.django_db

URL = "/api/v1/logistics/tracking-push/kuaidi100"
SALT = "kuaidi100-test-salt"
SHIPPED_ON = "2026-12-01"


@pytest.fixture(autouse=True)
def _salt(settings):
    settings.TRACKING_PUSH_SALT = SALT


def push_param(number: str, *, state: str = "0", ischeck: str = "0", com: str = "shunfeng",
               steps: tuple[tuple[str, str], ...] = ((f"{SHIPPED_ON} 10:00:00", "【深圳市】顺丰速运 已收取快件"),),
               status: str = "polling") -> str:
    """A push as Kuaidi100 writes it: the whole track so far, newest step first."""
    data = [{"context": context, "time": at, "ftime": at, "status": "在途", "areaCode": None, "areaName": None}
            for at, context in sorted(steps, reverse=True)]
    return json.dumps({"status": status, "billstatus": "got", "message": "",
                       "lastResult": {"message": "ok", "nu": number, "ischeck": ischeck, "condition": "F00",
                                      "com": com, "status": "200", "state": state, "data": data}},
                      ensure_ascii=False)


def send_push(client, param: str, *, sign: str | None = None):
    sign = tracking.kuaidi100_sign(param, salt=SALT) if sign is None else sign
    return client.post(URL, data=urlencode({"param": param, "sign": sign}),
                       content_type="application/x-www-form-urlencoded")


def shipped_order(buyer, address, listing, *, number="SF1000000001", carrier="顺丰 SF", key="delivery-order-1",
                  quantity=1) -> tuple[Order, Shipment]:
    order = pay(place(buyer, address, listing, quantity=quantity, key=key))
    shipment = order.shipments.get()
    orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier, carrier=carrier,
                         tracking_number=number)
    order.refresh_from_db()
    shipment.refresh_from_db()
    return order, shipment


SHIPMENT_FIELDS = ("status", "carrier", "tracking_number", "shipped_at", "delivered_at", "tracking_state",
                   "tracking_context", "tracking_updated_at", "updated_at")
ORDER_FIELDS = ("status", "shipping_status", "delivered_at", "completed_at", "updated_at")


def snapshot(order: Order) -> tuple:
    """Every row a push may touch, and the audit rows it may add."""
    return (list(Shipment.objects.filter(order=order).order_by("pk").values(*SHIPMENT_FIELDS)),
            Order.objects.filter(pk=order.pk).values(*ORDER_FIELDS).get(),
            OrderEvent.objects.filter(order=order).count(), BehaviourEvent.objects.count())


def beijing(at: str) -> datetime:
    return datetime.strptime(at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tracking.KUAIDI100_TIME_ZONE)


# --- the push ---------------------------------------------------------------------------------------------------
def test_an_in_transit_push_records_the_newest_step_and_answers_as_kuaidi100_expects(api_client, buyer, address,
                                                                                     listing):
    order, shipment = shipped_order(buyer, address, listing)
    param = push_param("SF1000000001", state="0", steps=(
        (f"{SHIPPED_ON} 10:00:00", "【深圳市】顺丰速运 已收取快件"),
        (f"{SHIPPED_ON} 18:30:00", "【深圳转运中心】已发出，下一站【上海转运中心】"),
    ))
    response = send_push(api_client, param)
    assert response.status_code == 200
    assert response.json() == {"result": True, "returnCode": "200", "message": "成功"}
    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_state) == (Shipment.Status.SHIPPED, "in_transit")
    assert shipment.tracking_context == "【深圳转运中心】已发出，下一站【上海转运中心】"
    assert shipment.tracking_updated_at == beijing(f"{SHIPPED_ON} 18:30:00")
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED


def test_a_delivered_push_delivers_the_shipment_and_the_order(api_client, buyer, address, listing):
    order, shipment = shipped_order(buyer, address, listing)
    param = push_param("SF1000000001", state="3", ischeck="1", status="shutdown", steps=(
        (f"{SHIPPED_ON} 10:00:00", "已收取快件"), ("2026-12-02 09:12:00", "已签收，签收人：本人"),
    ))
    assert send_push(api_client, param).status_code == 200
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert (shipment.status, shipment.tracking_state) == (Shipment.Status.DELIVERED, "delivered")
    assert shipment.delivered_at is not None
    assert (order.status, order.shipping_status) == (Order.Status.DELIVERED, Order.ShippingStatus.DELIVERED)
    assert order.delivered_at is not None
    delivered = BehaviourEvent.objects.get(kind="shipment_delivered")
    assert delivered.payload == {"shipment_id": shipment.pk, "source": "carrier"}
    assert BehaviourEvent.objects.filter(kind="order_delivered").count() == 1


def test_the_same_push_twice_changes_nothing_the_second_time(api_client, buyer, address, listing):
    order, _shipment = shipped_order(buyer, address, listing)
    for param in (push_param("SF1000000001", state="5", steps=(("2026-12-02 08:00:00", "派件中"),)),
                  push_param("SF1000000001", state="3", ischeck="1", steps=(("2026-12-02 09:00:00", "已签收"),))):
        assert send_push(api_client, param).status_code == 200
        before = snapshot(order)
        again = send_push(api_client, param)
        assert again.status_code == 200 and again.json()["result"] is True
        assert snapshot(order) == before


def test_an_older_push_after_a_newer_one_does_not_go_back(api_client, buyer, address, listing):
    order, shipment = shipped_order(buyer, address, listing)
    out_for_delivery = push_param("SF1000000001", state="5", steps=(
        (f"{SHIPPED_ON} 10:00:00", "已收取快件"), ("2026-12-02 08:00:00", "快递员正在派件"),
    ))
    delivered = push_param("SF1000000001", state="3", ischeck="1", steps=(
        (f"{SHIPPED_ON} 10:00:00", "已收取快件"), ("2026-12-02 08:00:00", "快递员正在派件"),
        ("2026-12-02 09:00:00", "已签收"),
    ))
    assert send_push(api_client, out_for_delivery).status_code == 200
    in_transit_late = push_param("SF1000000001", state="0", steps=((f"{SHIPPED_ON} 10:00:00", "已收取快件"),))
    before = snapshot(order)
    assert send_push(api_client, in_transit_late).status_code == 200  # a retried push, 30 minutes late
    assert snapshot(order) == before
    shipment.refresh_from_db()
    assert (shipment.tracking_state, shipment.tracking_context) == ("out_for_delivery", "快递员正在派件")

    assert send_push(api_client, delivered).status_code == 200
    before = snapshot(order)
    assert send_push(api_client, out_for_delivery).status_code == 200  # the earlier push, retried after delivery
    assert snapshot(order) == before
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert (shipment.status, shipment.tracking_state) == (Shipment.Status.DELIVERED, "delivered")
    assert order.status == Order.Status.DELIVERED


@pytest.fixture
def shipped(buyer, address, listing) -> tuple[Order, Shipment]:
    return shipped_order(buyer, address, listing)


def _garbage_body(param: str, sign: str) -> str:
    # Percent-encoded bytes that are no UTF-8 at all, as a broken sender would put them in the form.
    return urlencode({"param": param}) + "&sign=" + sign


@pytest.mark.parametrize(("case", "status", "code"), [
    ("sign_with_another_salt", 401, "signature_invalid"),
    ("sign_lower_case", 401, "signature_invalid"),
    ("sign_missing", 401, "signature_invalid"),
    ("sign_non_ascii", 401, "signature_invalid"),
    ("sign_garbage_bytes", 401, "signature_invalid"),
    ("sign_with_a_nul", 400, "invalid_characters"),
    ("param_not_json", 400, "callback_malformed"),
    ("param_without_last_result", 400, "callback_malformed"),
    ("param_with_a_bad_time", 400, "callback_malformed"),
    ("param_without_tracking_number", 400, "callback_malformed"),
    ("unknown_tracking_number", 404, "tracking_number_unknown"),
])
def test_bad_pushes_get_their_4xx_and_change_nothing(api_client, shipped, case, status, code):
    order, _shipment = shipped
    good = push_param("SF1000000001", state="3", ischeck="1", steps=(("2026-12-02 09:00:00", "已签收"),))
    before = snapshot(order)
    if case == "sign_with_another_salt":
        response = send_push(api_client, good, sign=tracking.kuaidi100_sign(good, salt="not-our-salt"))
    elif case == "sign_lower_case":
        response = send_push(api_client, good, sign=tracking.kuaidi100_sign(good, salt=SALT).lower())
    elif case == "sign_missing":
        response = api_client.post(URL, data=urlencode({"param": good}),
                                   content_type="application/x-www-form-urlencoded")
    elif case == "sign_non_ascii":
        response = send_push(api_client, good, sign="签名" + tracking.kuaidi100_sign(good, salt=SALT)[2:])
    elif case in ("sign_garbage_bytes", "sign_with_a_nul"):
        garbage = "%FF%FE%C3%28" if case == "sign_garbage_bytes" else "%FF%00%C3"
        response = api_client.post(URL, data=_garbage_body(good, garbage),
                                   content_type="application/x-www-form-urlencoded")
    else:
        param = {
            "param_not_json": "{not json",
            "param_without_last_result": json.dumps({"status": "polling", "message": ""}),
            "param_with_a_bad_time": push_param("SF1000000001", steps=(("yesterday at noon", "已收取快件"),)),
            "param_without_tracking_number": push_param(""),
            "unknown_tracking_number": push_param("SF9999999999", state="3", ischeck="1"),
        }[case]
        response = send_push(api_client, param)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == code
    assert snapshot(order) == before


def test_the_push_endpoint_does_not_exist_while_the_salt_is_empty(api_client, settings, buyer, address, listing):
    order, _shipment = shipped_order(buyer, address, listing)
    settings.TRACKING_PUSH_SALT = ""
    param = push_param("SF1000000001", state="3", ischeck="1")
    before = snapshot(order)
    for sign in (tracking.kuaidi100_sign(param, salt=SALT), tracking.kuaidi100_sign(param, salt="")):
        response = send_push(api_client, param, sign=sign)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert snapshot(order) == before


def test_a_number_two_carriers_share_is_told_apart_by_the_carrier_code(api_client, buyer, address, listing):
    order_sf, shipment_sf = shipped_order(buyer, address, listing, number="7700123", carrier="顺丰 SF",
                                          key="delivery-order-sf")
    _order_zto, shipment_zto = shipped_order(buyer, address, listing, number="7700123", carrier="中通 ZTO",
                                            key="delivery-order-zto")
    assert send_push(api_client, push_param("7700123", com="zhongtong", state="3", ischeck="1")).status_code == 200
    shipment_sf.refresh_from_db()
    shipment_zto.refresh_from_db()
    assert (shipment_sf.status, shipment_zto.status) == (Shipment.Status.SHIPPED, Shipment.Status.DELIVERED)
    before = snapshot(order_sf)
    response = send_push(api_client, push_param("7700123", com="yuantong", state="3", ischeck="1"))
    assert response.status_code == 404 and response.json()["code"] == "tracking_number_unknown"
    assert snapshot(order_sf) == before


def test_the_order_is_delivered_once_every_shipment_is(api_client, buyer, address, listing, store):
    other_supplier = SupplierFactory()
    template = ShippingRateFactory(template__supplier=other_supplier).template
    other_listing = ListingFactory(store=store, price=Decimal("50.00"), sku=SKUFactory(
        product=ProductFactory(supplier=other_supplier, shipping_template=template)))
    order, _created = orders.order_submit(buyer=buyer, address_id=address.pk, idempotency_key="two-suppliers-1",
                                          lines=[{"listing_id": listing.pk, "quantity": 1},
                                                 {"listing_id": other_listing.pk, "quantity": 1}])
    pay(order)
    first, second = order.shipments.order_by("pk")
    for shipment, number in ((first, "YT0001"), (second, "YT0002")):
        orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier, carrier="圆通 YTO",
                             tracking_number=number)
    assert send_push(api_client, push_param("YT0001", com="yuantong", state="3", ischeck="1")).status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    assert send_push(api_client, push_param("YT0002", com="yuantong", state="3", ischeck="1")).status_code == 200
    order.refresh_from_db()
    assert (order.status, order.shipping_status) == (Order.Status.DELIVERED, Order.ShippingStatus.DELIVERED)


def test_a_refused_parcel_is_recorded_but_not_delivered(api_client, buyer, address, listing):
    order, shipment = shipped_order(buyer, address, listing)
    assert send_push(api_client, push_param("SF1000000001", state="14", steps=(
        ("2026-12-02 09:00:00", "收件人拒收，快件将退回"),))).status_code == 200
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert (shipment.status, shipment.tracking_state) == (Shipment.Status.SHIPPED, "refused")
    assert order.status == Order.Status.SHIPPED


# --- the supplier console ---------------------------------------------------------------------------------------
def supplier_member(listing):
    member = UserFactory(role=Role.SUPPLIER_STAFF)
    listing.sku.product.supplier.staff.add(member)
    return member


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_a_supplier_marks_shipments_delivered_and_is_told_which_could_not_be(client, buyer, address, listing):
    shipped, shipped_shipment = shipped_order(buyer, address, listing, key="console-deliver-1")
    delivered, delivered_shipment = shipped_order(buyer, address, listing, number="SF1000000002",
                                                  key="console-deliver-2")
    orders.shipment_deliver(shipment_id=delivered_shipment.pk, source="buyer")
    pending = pay(place(buyer, address, listing, key="console-deliver-3"))
    pending_shipment = pending.shipments.get()
    member = supplier_member(listing)
    client.force_login(member)
    url = reverse("supplier_console:mall_shipment_changelist")
    before = (snapshot(delivered)[:3], snapshot(pending)[:3])  # their rows and order events (not all events)

    response = client.post(url, {"action": "mark_delivered", "index": "0",
                                 "_selected_action": [shipped_shipment.pk, delivered_shipment.pk,
                                                      pending_shipment.pk]})
    assert response.status_code == 302
    said = messages_of(response)
    assert any(pending.number in text and "未发货" in text for text in said)
    assert any(delivered.number in text and "已签收" in text for text in said)
    assert any("已标记签收" in text and text.endswith(": 1") for text in said)
    assert (snapshot(delivered)[:3], snapshot(pending)[:3]) == before
    shipped_shipment.refresh_from_db()
    shipped.refresh_from_db()
    assert shipped_shipment.status == Shipment.Status.DELIVERED and shipped.status == Order.Status.DELIVERED
    assert shipped.events.filter(to_state="delivered", actor=member).exists()
    assert BehaviourEvent.objects.filter(kind="shipment_delivered", payload__source="supplier").count() == 1


def test_another_supplier_cannot_mark_our_shipment_delivered(client, buyer, address, listing):
    order, shipment = shipped_order(buyer, address, listing)
    stranger = UserFactory(role=Role.SUPPLIER_STAFF)
    SupplierFactory().staff.add(stranger)
    client.force_login(stranger)
    before = snapshot(order)
    client.post(reverse("supplier_console:mall_shipment_changelist"),
                {"action": "mark_delivered", "index": "0", "_selected_action": [shipment.pk]})
    assert snapshot(order) == before


def test_the_shipment_page_shows_the_carriers_latest_state(client, api_client, buyer, address, listing):
    _order, shipment = shipped_order(buyer, address, listing)
    send_push(api_client, push_param("SF1000000001", state="5",
                                     steps=(("2026-12-02 08:00:00", "快递员张师傅正在派件"),)))
    client.force_login(supplier_member(listing))
    page = client.get(reverse("supplier_console:mall_shipment_change", args=[shipment.pk])).content.decode()
    assert "派件 out for delivery" in page and "快递员张师傅正在派件" in page and "2026-12-02 08:00" in page
    listing_page = client.get(reverse("supplier_console:mall_shipment_changelist")).content.decode()
    assert "快递员张师傅正在派件" in listing_page


def test_the_carrier_is_one_of_the_carriers_we_track(client, buyer, address, listing):
    order = pay(place(buyer, address, listing))
    shipment = order.shipments.get()
    url = reverse("supplier_console:mall_shipment_change", args=[shipment.pk])
    client.force_login(supplier_member(listing))
    page = client.get(url).content.decode()
    assert all(escape(name) in page for name in tracking.CARRIERS.values())
    response = client.post(url, {"carrier": "某某快递 NOBODY", "tracking_number": "X1"})
    assert response.status_code == 200 and "carrier" in response.context["adminform"].form.errors
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.PENDING


# --- the whole chain --------------------------------------------------------------------------------------------
def test_ship_then_the_carrier_delivers_then_receipt_is_confirmed_automatically(api_client, buyer, address, listing):
    order, _shipment = shipped_order(buyer, address, listing)
    assert send_push(api_client, push_param("SF1000000001", state="3", ischeck="1")).status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert orders_auto_confirm_task() == 0  # delivered today: the buyer still has time to confirm or complain
    Order.objects.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=10, minutes=1))
    assert orders_auto_confirm_task() == 1
    order.refresh_from_db()
    assert (order.status, order.shipping_status) == (Order.Status.COMPLETED, Order.ShippingStatus.DELIVERED)
    assert order.events.filter(to_state="completed", reason="auto_confirmed").exists()
    assert BehaviourEvent.objects.get(kind="order_completed").payload == {"auto": True}


def test_ship_with_no_push_at_all_is_confirmed_ten_days_after_shipping(buyer, address, listing):
    order, shipment = shipped_order(buyer, address, listing)
    Order.objects.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=9, hours=23))
    assert orders_auto_confirm_task() == 0
    Order.objects.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=10, minutes=1))
    assert orders_auto_confirm_task() == 1
    order.refresh_from_db()
    shipment.refresh_from_db()
    assert order.status == Order.Status.COMPLETED and shipment.status == Shipment.Status.DELIVERED
    assert BehaviourEvent.objects.get(kind="shipment_delivered").payload["source"] == "auto_confirm"
    assert orders_auto_confirm_task() == 0


# --- the service, directly ---------------------------------------------------------------------------------------
def test_the_sign_is_upper_case_md5_of_param_and_salt():
    assert tracking.kuaidi100_sign("{}", salt="s") == hashlib.md5(b"{}s").hexdigest().upper()  # noqa: S324


def test_a_push_with_no_step_is_accepted_and_records_nothing(buyer, address, listing):
    order, _shipment = shipped_order(buyer, address, listing)
    before = snapshot(order)
    param = push_param("SF1000000001", state="0", steps=(), status="abort")
    result = tracking.tracking_push_receive(param=param, sign=tracking.kuaidi100_sign(param, salt=SALT))
    assert (result.applied, result.delivered) == (0, 0)
    assert snapshot(order) == before
