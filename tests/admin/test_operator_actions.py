"""Operators change state only through admin actions that call the services: each action changes what its service
changes; a refusal is an error message for that row and changes nothing; staff who may only view see no action."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Role
from core.models import BehaviourEvent
from mall.models import AfterSale, Order, OrderEvent, Refund, Shipment
from mall.services import after_sales, orders
from supply.models import Stock, Supplier
from tests.admin.conftest import paid_order, shipped_order
from tests.factories import UserFactory
from tests.mall.conftest import place

pytestmark = pytest.mark.django_db


def act(client, model, action: str, rows, **extra):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.post(url, {"action": action, "_selected_action": [row.pk for row in rows], **extra})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def messages_of(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def errors_of(response) -> list[str]:
    return [text for level, text in messages_of(response) if level == "error"]


# --- orders --------------------------------------------------------------------------------------------------------
def test_cancel_unpaid_orders_gives_the_stock_back_and_a_paid_order_is_refused(operator_client, operator, buyer,
                                                                               address, listing):
    unpaid = place(buyer, address, listing, key="unpaid-1")
    paid = paid_order(buyer, address, listing, "paid-1")
    assert Stock.objects.get(sku=listing.sku).reserved == 1
    paid_events = OrderEvent.objects.filter(order=paid).count()

    response = act(operator_client, Order, "cancel_unpaid", [unpaid, paid])

    unpaid.refresh_from_db()
    assert unpaid.status == Order.Status.CANCELLED and unpaid.cancelled_at is not None
    assert OrderEvent.objects.filter(order=unpaid, to_state=Order.Status.CANCELLED, actor=operator).exists()
    stock = Stock.objects.get(sku=listing.sku)
    assert (stock.available, stock.reserved, stock.sold) == (99, 0, 1)
    paid.refresh_from_db()
    assert paid.status == Order.Status.PAID
    assert OrderEvent.objects.filter(order=paid).count() == paid_events
    assert errors_of(response) == [f"{paid.number}: 只有待支付的订单可以取消"]
    assert ("success", "已取消 cancelled: 1") in messages_of(response)


# --- shipments -----------------------------------------------------------------------------------------------------
def test_mark_delivered_delivers_a_shipped_shipment_and_refuses_a_pending_one(operator_client, operator, buyer,
                                                                              address, listing):
    shipped = shipped_order(buyer, address, listing, "shipped-1").shipments.get()
    pending = paid_order(buyer, address, listing, "pending-1").shipments.get()

    response = act(operator_client, Shipment, "mark_delivered", [shipped, pending])

    shipped.refresh_from_db()
    assert shipped.status == Shipment.Status.DELIVERED and shipped.delivered_at is not None
    assert Order.objects.get(pk=shipped.order_id).status == Order.Status.DELIVERED
    event = BehaviourEvent.objects.get(kind="shipment_delivered")
    assert event.payload == {"shipment_id": shipped.pk, "source": "operator"} and event.actor_id == operator.pk
    pending.refresh_from_db()
    assert pending.status == Shipment.Status.PENDING and pending.delivered_at is None
    assert Order.objects.get(pk=pending.order_id).status == Order.Status.PAID
    assert len(errors_of(response)) == 1 and "发货单未发货" in errors_of(response)[0]


# --- after-sales ---------------------------------------------------------------------------------------------------
def request(order, kind=AfterSale.Kind.REFUND_ONLY) -> AfterSale:
    return after_sales.after_sale_request(buyer=order.buyer, order_id=order.pk, line_id=order.lines.get().pk,
                                          kind=kind, quantity=1, reason="不想要了")


def test_approve_refunds_a_refund_only_request(operator_client, buyer, address, listing):
    order = paid_order(buyer, address, listing, "as-approve")
    after_sale = request(order)

    act(operator_client, AfterSale, "approve", [after_sale])

    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REFUNDED
    refund = Refund.objects.get(order=order)
    assert refund.amount == after_sale.refund_amount == order.total  # all of it, shipping included: nothing shipped


def test_refuse_needs_a_reason_and_then_refuses(operator_client, buyer, address, listing):
    after_sale = request(paid_order(buyer, address, listing, "as-refuse"))

    response = act(operator_client, AfterSale, "refuse", [after_sale], note="")
    assert errors_of(response) == [f"{after_sale.order.number} #{after_sale.pk}: 请填写拒绝原因"]
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REQUESTED and after_sale.merchant_note == ""

    act(operator_client, AfterSale, "refuse", [after_sale], note="商品已使用")
    after_sale.refresh_from_db()
    assert (after_sale.status, after_sale.merchant_note) == (AfterSale.Status.REFUSED, "商品已使用")
    assert not Refund.objects.exists()


def test_confirm_return_refunds_and_restocks_and_is_refused_before_the_goods_are_on_their_way(operator_client,
                                                                                             buyer, address, listing):
    order = shipped_order(buyer, address, listing, "as-return")
    orders.shipment_deliver(shipment_id=order.shipments.get().pk)
    after_sale = request(order, kind=AfterSale.Kind.RETURN_REFUND)

    response = act(operator_client, AfterSale, "confirm_return", [after_sale])  # nothing came back yet
    assert len(errors_of(response)) == 1 and "售后申请当前状态不允许此操作" in errors_of(response)[0]
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REQUESTED and not Refund.objects.exists()

    act(operator_client, AfterSale, "approve", [after_sale])
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.AWAITING_RETURN
    after_sales.after_sale_return_ship(buyer=buyer, after_sale_id=after_sale.pk, carrier="顺丰速运",
                                       tracking_number="SF-BACK-1")
    act(operator_client, AfterSale, "confirm_return", [after_sale])
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REFUNDED
    assert Refund.objects.get(order=order).amount == Decimal("50.00")  # the goods; the shipping was used
    stock = Stock.objects.get(sku=listing.sku)
    assert (stock.available, stock.sold) == (100, 0)


# --- refunds -------------------------------------------------------------------------------------------------------
def test_retrying_a_refund_that_has_not_failed_is_refused(operator_client, buyer, address, listing):
    after_sale = request(paid_order(buyer, address, listing, "refund-pending"))
    after_sales.after_sale_approve(after_sale_id=after_sale.pk, store=after_sale.order.store, actor=None)
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING  # its send task runs after commit, which a test never reaches

    response = act(operator_client, Refund, "retry_refunds", [refund])
    assert errors_of(response) == [f"#{refund.pk}: 只有失败的退款可以重试"]
    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (Refund.Status.PENDING, 0)


# --- suppliers -----------------------------------------------------------------------------------------------------
def sync(api_client, token: str):
    return api_client.put("/api/v1/supplier/stock", {"batch_id": "b-1", "rows": [
        {"sku": "NOPE", "quantity": 1, "as_of": "2026-01-01T00:00:00Z"}]}, format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_suspended_supplier_is_refused_by_the_api_until_it_is_reactivated(operator_client, supplier, api_client):
    act(operator_client, Supplier, "suspend", [supplier])
    supplier.refresh_from_db()
    assert supplier.status == Supplier.Status.SUSPENDED
    assert sync(api_client, supplier.issued_token).status_code == 401

    response = act(operator_client, Supplier, "suspend", [supplier])
    assert len(errors_of(response)) == 1 and "已暂停" in errors_of(response)[0]

    act(operator_client, Supplier, "reactivate", [supplier])
    supplier.refresh_from_db()
    assert supplier.status == Supplier.Status.ACTIVE
    assert sync(api_client, supplier.issued_token).status_code == 200


# --- who may act ---------------------------------------------------------------------------------------------------
def test_staff_who_may_only_view_orders_see_no_action_and_cannot_run_one(client, buyer, address, listing):
    viewer = UserFactory(role=Role.OPERATOR, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)
    unpaid = place(buyer, address, listing, key="viewer-1")
    changelist = reverse("admin:mall_order_changelist")

    response = client.get(changelist)
    assert response.status_code == 200 and unpaid.number in response.content.decode()
    assert "cancel_unpaid" not in response.content.decode()
    assert client.get(reverse("admin:mall_shipment_changelist")).status_code == 403

    client.post(changelist, {"action": "cancel_unpaid", "_selected_action": [unpaid.pk]})
    unpaid.refresh_from_db()
    assert unpaid.status == Order.Status.PENDING_PAYMENT
