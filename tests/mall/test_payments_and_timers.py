import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from mall.models import Order, Payment, Refund, UserCoupon
from mall.services import coupons, orders, payments
from mall.tasks import orders_auto_confirm_task, orders_close_expired_task
from supply.models import Stock
from tests.factories import CouponTemplateFactory
from tests.mall.conftest import pay, place

pytestmark = pytest.mark.django_db


def callback(client, body: dict, *, secret=None):
    raw = json.dumps(body).encode()
    return client.post("/api/v1/payments/callback/simulated", data=raw, content_type="application/json",
                       HTTP_X_SIGNATURE=payments.sign(raw, secret=secret))


def test_signed_callback_pays_and_a_repeat_is_a_no_op(api_client, buyer, address, listing):
    order = place(buyer, address, listing)
    body = {"order_number": order.number, "transaction_id": "txn-1", "amount": str(order.total)}
    first = callback(api_client, body)
    again = callback(api_client, body)
    assert first.status_code == 200 and again.status_code == 200
    assert first.json()["payment_id"] == again.json()["payment_id"]
    assert Payment.objects.filter(order=order).count() == 1


def test_a_bad_signature_is_refused_and_nothing_changes(api_client, buyer, address, listing):
    order = place(buyer, address, listing)
    body = {"order_number": order.number, "transaction_id": "txn-2", "amount": str(order.total)}
    response = callback(api_client, body, secret="not-the-secret")
    assert response.status_code == 401 and response.json()["code"] == "signature_invalid"
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.UNPAID and not Payment.objects.exists()


def test_an_amount_mismatch_is_refused_and_nothing_changes(api_client, buyer, address, listing):
    order = place(buyer, address, listing)
    body = {"order_number": order.number, "transaction_id": "txn-3", "amount": "0.01"}
    response = callback(api_client, body)
    assert response.status_code == 422 and response.json()["code"] == "amount_mismatch"
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.UNPAID and not Payment.objects.exists()
    assert Stock.objects.get(sku=listing.sku).reserved == 1


def test_malformed_callbacks_are_4xx(api_client):
    raw = b"not json"
    response = api_client.post("/api/v1/payments/callback/simulated", data=raw, content_type="application/json",
                               HTTP_X_SIGNATURE=payments.sign(raw))
    assert response.status_code == 400 and response.json()["code"] == "callback_malformed"
    assert api_client.post("/api/v1/payments/callback/alipay", data=b"{}",
                           content_type="application/json").json()["code"] == "provider_unknown"


def test_a_payment_after_the_order_closed_is_refunded_at_once(api_client, buyer, address, listing):
    order = place(buyer, address, listing)
    orders.order_cancel(order_id=order.pk, buyer=buyer)
    response = callback(api_client, {"order_number": order.number, "transaction_id": "late-1",
                                     "amount": str(order.total)})
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.payment_status == Order.PaymentStatus.UNPAID
    refund = Refund.objects.get(order=order)
    assert refund.amount == order.total and refund.reason == "late_or_duplicate_payment"


def test_the_sweep_closes_an_unpaid_order_whose_timer_was_lost(buyer, address, listing,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the countdown task is never sent: "lost"
        order = place(buyer, address, listing, quantity=5)
    assert Stock.objects.get(sku=listing.sku).reserved == 5
    assert orders_close_expired_task() == 0  # not overdue yet
    Order.objects.filter(pk=order.pk).update(pay_deadline=timezone.now() - timedelta(seconds=1))
    assert orders_close_expired_task() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    stock = Stock.objects.get(sku=listing.sku)
    assert (stock.available, stock.reserved) == (100, 0)
    assert orders_close_expired_task() == 0  # idempotent
    assert orders.order_close_unpaid(order_id=order.pk) is False


def test_the_close_timer_leaves_a_paid_order_alone(buyer, address, listing):
    order = pay(place(buyer, address, listing))
    Order.objects.filter(pk=order.pk).update(pay_deadline=timezone.now() - timedelta(minutes=1))
    assert orders.order_close_unpaid(order_id=order.pk) is False
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


@pytest.mark.parametrize("carrier_reported_delivery", [True, False])
def test_receipt_is_confirmed_automatically_ten_days_after_shipping(buyer, address, listing,
                                                                    carrier_reported_delivery):
    order = pay(place(buyer, address, listing))
    shipment = order.shipments.get()
    orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier, carrier="SF", tracking_number="1")
    if carrier_reported_delivery:
        orders.shipment_deliver(shipment_id=shipment.pk, source="carrier")
    assert orders_auto_confirm_task() == 0
    Order.objects.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=9, hours=23))
    assert orders_auto_confirm_task() == 0  # not yet: 自动确认收货 is 10 days after shipping
    Order.objects.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=10, minutes=1))
    assert orders_auto_confirm_task() == 1
    order.refresh_from_db()
    assert (order.status, order.shipping_status) == (Order.Status.COMPLETED, Order.ShippingStatus.DELIVERED)
    assert order.delivered_at is not None and order.completed_at is not None
    assert order.events.filter(to_state="completed", reason="auto_confirmed").exists()
    assert orders_auto_confirm_task() == 0  # once


def test_a_cancelled_order_gives_its_coupon_back(buyer, address, listing):
    template = CouponTemplateFactory(store=listing.store)
    coupon = coupons.coupon_claim(user=buyer, template_id=template.pk)
    order = place(buyer, address, listing, quantity=3, coupon_id=coupon.pk)
    assert order.discount_total == Decimal("20.00") and order.total == Decimal("130.00")
    coupon.refresh_from_db()
    assert coupon.status == UserCoupon.Status.LOCKED
    orders.order_cancel(order_id=order.pk, buyer=buyer)
    coupon.refresh_from_db()
    assert coupon.status == UserCoupon.Status.AVAILABLE and coupon.order_id is None
    again = place(buyer, address, listing, quantity=3, coupon_id=coupon.pk, key="second-order-1")
    pay(again)
    coupon.refresh_from_db()
    assert coupon.status == UserCoupon.Status.USED
