"""Orders: submit (idempotent, stock reserved), the one transition service, cancel, ship, deliver, confirm, timers.

Order status has four axes (status, payment, shipping, after-sale). Each axis changes only through
`order_transition`, which refuses moves its table does not list, applies the move as a conditional UPDATE (so two
racing callers cannot both move the same order) and writes an OrderEvent row.

Orders know no promotion: what a group-buy or a bargain does when its order is released goes through
`promotions`. Existing orders are locked only through `locks` (the one lock order of the mall). Timers (the pay
window, 自动确认收货) are sweeps in the beat schedule (mall/tasks.py): placing an order touches no broker.
"""
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, Conflict, NotFound
from core.events import record_event
from mall import selectors
from mall.models import CartItem, Order, OrderEvent, OrderLine, Shipment, UserCoupon
from mall.services import adjustments as checkout_adjustments
from mall.services import locks, promotions, quotes
from supply import services as supply_services

S = Order.Status
P = Order.PaymentStatus
SH = Order.ShippingStatus
A = Order.AfterSaleStatus

TRANSITIONS: dict[str, set[tuple[str, str]]] = {
    "status": {
        (S.PENDING_PAYMENT, S.PAID), (S.PENDING_PAYMENT, S.GROUPING), (S.PENDING_PAYMENT, S.CANCELLED),
        (S.GROUPING, S.PAID), (S.GROUPING, S.CLOSED),
        (S.PAID, S.SHIPPED), (S.SHIPPED, S.DELIVERED), (S.DELIVERED, S.COMPLETED),
        (S.PAID, S.CLOSED), (S.SHIPPED, S.CLOSED), (S.DELIVERED, S.CLOSED), (S.COMPLETED, S.CLOSED),
    },
    "payment_status": {
        (P.UNPAID, P.PAID), (P.PAID, P.PARTIALLY_REFUNDED), (P.PAID, P.REFUNDED),
        (P.PARTIALLY_REFUNDED, P.REFUNDED),
    },
    "shipping_status": {
        (SH.NOT_SHIPPED, SH.PARTIALLY_SHIPPED), (SH.NOT_SHIPPED, SH.SHIPPED), (SH.PARTIALLY_SHIPPED, SH.SHIPPED),
        (SH.SHIPPED, SH.DELIVERED),
    },
    "after_sale_status": {
        (A.NONE, A.IN_PROGRESS), (A.IN_PROGRESS, A.NONE), (A.IN_PROGRESS, A.PARTIALLY_REFUNDED),
        (A.IN_PROGRESS, A.REFUNDED), (A.PARTIALLY_REFUNDED, A.IN_PROGRESS), (A.NONE, A.REFUNDED),
        (A.NONE, A.PARTIALLY_REFUNDED), (A.PARTIALLY_REFUNDED, A.REFUNDED),
    },
}


class IllegalTransition(Conflict):
    code = "illegal_transition"
    message = _("the order's state does not allow this")


def order_transition(*, order: Order, axis: str, to: str, actor=None, reason: str = "", **fields) -> Order:
    """Move one axis of an order from its current value to `to`, or raise. Extra `fields` are written with it."""
    return order_transitions(order=order, moves={axis: to}, actor=actor, reason=reason, **fields)


def order_transitions(*, order: Order, moves: dict[str, str], actor=None, reason: str = "", **fields) -> Order:
    """Move several axes at once (one conditional UPDATE, one event row per axis moved), or none of them."""
    changes = {}
    for axis, to in moves.items():
        current = getattr(order, axis)
        if current == to:
            continue
        if (current, to) not in TRANSITIONS[axis]:
            raise IllegalTransition(detail={"axis": axis, "from": current, "to": to})
        changes[axis] = (current, to)
    if not changes:
        return order
    expected = {axis: current for axis, (current, _to) in changes.items()}
    changed = Order.objects.filter(pk=order.pk, **expected).update(
        **{axis: to for axis, (_current, to) in changes.items()}, updated_at=timezone.now(), **fields)
    if not changed:
        raise Conflict(_("the order changed meanwhile; reload it"), code="order_state_changed",
                       detail={"expected": expected})
    actor_id = getattr(actor, "pk", None)
    OrderEvent.objects.bulk_create([
        OrderEvent(order=order, axis=axis, from_state=current, to_state=to, actor_id=actor_id, reason=reason[:200])
        for axis, (current, to) in changes.items()])
    for axis, (_current, to) in changes.items():
        setattr(order, axis, to)
    for name, value in fields.items():
        setattr(order, name, value)
    return order


def _new_order_number() -> str:
    return f"{timezone.localtime():%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}"


def order_submit(*, buyer, lines: list[dict], address_id: int, idempotency_key: str, coupon_id: int | None = None,
                 note: str = "", kind: str = Order.Kind.NORMAL,
                 unit_price_override: dict[int, Decimal] | None = None, clear_cart: bool = False,
                 adjustments: dict | None = None) -> tuple[Order, bool]:
    """Place an order: price it, lock the coupon, reserve the stock, split it into one shipment per supplier, let
    the checkout adjustments it carries hold what they take (points). With `clear_cart` the ordered listings leave
    the buyer's cart in the same transaction.

    Returns (order, created). A retried submit with the same idempotency key returns the first order.
    """
    existing_id = Order.objects.filter(buyer=buyer, idempotency_key=idempotency_key).values_list(
        "pk", flat=True).first()
    if existing_id is not None:
        return Order.objects.get(pk=existing_id), False
    try:
        with transaction.atomic():
            order = _order_create(buyer=buyer, lines=lines, address_id=address_id, idempotency_key=idempotency_key,
                                  coupon_id=coupon_id, note=note, kind=kind, unit_price_override=unit_price_override,
                                  adjustments=adjustments)
            if clear_cart:
                CartItem.objects.filter(user=buyer, listing_id__in=[line["listing_id"] for line in lines]).delete()
    except IntegrityError:
        # A concurrent submit with the same key won the unique constraint: its order is the answer.
        existing = Order.objects.filter(buyer=buyer, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing, False
    return order, True


def _order_create(*, buyer, lines, address_id, idempotency_key, coupon_id, note, kind, unit_price_override,
                  adjustments) -> Order:
    quote = quotes.quote_build(buyer=buyer, lines=lines, address_id=address_id, coupon_id=coupon_id,
                               unit_price_override=unit_price_override, adjustments=adjustments)
    now = timezone.now()
    address = quote.address
    order = Order.objects.create(
        number=_new_order_number(), buyer=buyer, store=quote.store, kind=kind, idempotency_key=idempotency_key,
        subtotal=quote.subtotal, discount_total=quote.discount_total, shipping_fee=quote.shipping_fee,
        total=quote.total, region=quote.region, note=note[:200],
        address={"recipient": address.recipient, "phone": address.phone, "region_code": address.region_id,
                 "province": address.region.name, "city": address.city, "district": address.district,
                 "detail": address.detail},
        pay_deadline=now + settings.ORDER_PAY_TIMEOUT, adjustments=quote.adjustments,
    )
    if quote.coupon is not None:
        locked = UserCoupon.objects.filter(pk=quote.coupon.pk, status=UserCoupon.Status.AVAILABLE).update(
            status=UserCoupon.Status.LOCKED, order=order, updated_at=now)
        if not locked:  # another order took it between the check and now
            raise BusinessRuleViolation(_("this coupon is already used"), code="coupon_used")
        Order.objects.filter(pk=order.pk).update(coupon=quote.coupon)
        order.coupon = quote.coupon
    shipments = {part.supplier.pk: Shipment(order=order, supplier=part.supplier, shipping_fee=part.fee,
                                            weight_grams=part.weight_grams) for part in quote.shipments}
    Shipment.objects.bulk_create(shipments.values())
    order_lines = []
    for line in quote.lines:
        sku = line.listing.sku
        order_lines.append(OrderLine(
            order=order, shipment=shipments[sku.product.supplier_id], listing=line.listing, sku=sku,
            supplier_id=sku.product.supplier_id, title=sku.product.title, sku_code=sku.code,
            spec_values=sku.spec_values, category_id=sku.product.category_id, quantity=line.quantity,
            list_price=line.list_price, unit_price=line.unit_price, cost_price=sku.cost_price,
            line_subtotal=line.line_subtotal, discount_share=line.discount_share, paid_amount=line.paid_amount,
        ))
    OrderLine.objects.bulk_create(order_lines)
    # One statement for every line; it locks the stock rows in SKU order, so two orders cannot deadlock.
    supply_services.stock_reserve_many(items=[(line.sku_id, line.quantity) for line in order_lines],
                                       reference=order.number)
    if order.adjustments:
        checkout_adjustments.adjustments_placed(order=order)
    OrderEvent.objects.create(order=order, axis="status", from_state="", to_state=order.status, actor=buyer,
                              reason="submitted")
    record_event(kind="order_created", actor=buyer, target=order,
                 payload={"total": order.total, "kind": kind, "store_id": order.store_id,
                          "lines": [[line.sku_code, line.quantity] for line in order_lines]})
    # What the caller shows next is what was just written: no need to read it back.
    selectors.relations_remember(order, lines=order_lines, shipments=list(shipments.values()))
    return order


def order_for_buyer(*, buyer, order_id: int) -> Order:
    order = Order.objects.filter(pk=order_id, buyer=buyer).first()
    if order is None:
        raise NotFound(_("no such order"), code="order_not_found")
    return order


def order_lock(*, order_id: int, buyer=None) -> Order:
    """Lock an order (of `buyer`, when given) in the mall's lock order, or raise NotFound."""
    order = locks.order_for_update(order_id=order_id, buyer=buyer)
    if order is None:
        raise NotFound(_("no such order"), code="order_not_found")
    return order


def order_release_holds(*, order: Order) -> None:
    """Give back what an unpaid order held: reserved stock, the locked coupon, its promotion's seat or bargain, what
    its checkout adjustments held (points)."""
    promotions.order_released(order)
    if order.adjustments:
        checkout_adjustments.adjustments_released(order=order)
    supply_services.stock_release_many(items=order.lines.values_list("sku_id", "quantity"), reference=order.number)
    if order.coupon_id:
        UserCoupon.objects.filter(pk=order.coupon_id, status=UserCoupon.Status.LOCKED, order=order).update(
            status=UserCoupon.Status.AVAILABLE, order=None, updated_at=timezone.now())


def order_cancel_locked(*, order: Order, actor=None, reason: str) -> Order:
    """Cancel an unpaid order the caller has locked: stock, coupon and promotion holds come back."""
    if order.status != S.PENDING_PAYMENT:
        raise IllegalTransition(_("only unpaid orders can be cancelled"),
                                detail={"status": order.status})
    order_transition(order=order, axis="status", to=S.CANCELLED, actor=actor, reason=reason,
                     cancelled_at=timezone.now())
    order_release_holds(order=order)
    record_event(kind="order_cancelled", actor=order.buyer, target=order, payload={"reason": reason})
    return order


def order_cancel(*, order_id: int, actor=None, buyer=None, reason: str = "shopper_cancelled") -> Order:
    """Cancel an unpaid order (by its buyer, or by the system when `buyer` is None)."""
    with transaction.atomic():
        order = order_lock(order_id=order_id, buyer=buyer)
        return order_cancel_locked(order=order, actor=actor, reason=reason)


def order_close_unpaid(*, order_id: int) -> bool:
    """Timer: close the order if it is still unpaid after its deadline. Idempotent; True if it closed it."""
    with transaction.atomic():
        order = locks.order_for_update(order_id=order_id)
        if order is None or order.status != S.PENDING_PAYMENT or order.pay_deadline > timezone.now():
            return False
        order_cancel_locked(order=order, reason="payment_timeout")
    return True


def orders_close_expired(*, limit: int = 500) -> int:
    """Sweep: close every unpaid order past its deadline (a lost timer task never leaves stock held)."""
    ids = list(Order.objects.filter(status=S.PENDING_PAYMENT, pay_deadline__lte=timezone.now())
               .order_by("pay_deadline").values_list("pk", flat=True)[:limit])
    return sum(order_close_unpaid(order_id=order_id) for order_id in ids)


# --- shipping and delivery --------------------------------------------------------------------------------------
def order_shipping_settle(*, order: Order, actor=None, reason: str = "") -> None:
    """Move the order's shipping axes to what its shipments say (cancelled shipments have nothing to ship).

    paid -> shipped once no shipment is pending; shipped -> delivered once every shipment is delivered.
    """
    statuses = [status for status in order.shipments.values_list("status", flat=True)
                if status != Shipment.Status.CANCELLED]
    if not statuses:
        return
    now = timezone.now()
    pending = statuses.count(Shipment.Status.PENDING)
    delivered = statuses.count(Shipment.Status.DELIVERED)
    if pending and pending < len(statuses):
        order_transition(order=order, axis="shipping_status", to=SH.PARTIALLY_SHIPPED, actor=actor, reason=reason)
    if not pending and order.status == S.PAID:
        order_transition(order=order, axis="shipping_status", to=SH.SHIPPED, actor=actor, reason=reason)
        order_transition(order=order, axis="status", to=S.SHIPPED, actor=actor, reason="all shipments shipped",
                         shipped_at=now)
    if delivered == len(statuses) and order.status == S.SHIPPED:
        order_transition(order=order, axis="shipping_status", to=SH.DELIVERED, actor=actor, reason=reason)
        order_transition(order=order, axis="status", to=S.DELIVERED, actor=actor, reason=reason, delivered_at=now)
        record_event(kind="order_delivered", actor=order.buyer, target=order)


def shipment_ship(*, shipment_id: int, supplier, carrier: str, tracking_number: str, actor=None) -> Shipment:
    """The supplier ships its part. Group-buy orders ship only once their team has succeeded (status paid)."""
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    if not carrier or not tracking_number:
        raise BusinessRuleViolation(_("carrier and tracking number are required"),
                                    code="tracking_required")
    with transaction.atomic():
        order, shipment = locks.shipment_for_update(shipment_id=shipment_id, supplier=supplier)
        if shipment is None:
            raise NotFound(_("no such shipment"), code="shipment_not_found")
        if order.status != S.PAID and not (order.status == S.SHIPPED and shipment.status == Shipment.Status.PENDING):
            raise IllegalTransition(_("this order cannot ship now"), code="order_not_shippable",
                                    detail={"status": order.status})
        if shipment.status != Shipment.Status.PENDING:
            raise IllegalTransition(_("already shipped, or nothing left to ship"),
                                    code="already_shipped", detail={"status": shipment.status})
        now = timezone.now()
        Shipment.objects.filter(pk=shipment.pk).update(status=Shipment.Status.SHIPPED, carrier=carrier[:64],
                                                       tracking_number=tracking_number[:64], shipped_at=now,
                                                       updated_at=now)
        order_shipping_settle(order=order, actor=actor, reason=f"shipment {shipment.pk} shipped")
        record_event(kind="order_shipped", actor=actor, target=order,
                     payload={"shipment_id": shipment.pk, "carrier": carrier, "tracking_number": tracking_number})
        shipment.refresh_from_db()
    return shipment


def shipment_deliver_locked(*, order: Order, shipment: Shipment, source: str, actor=None) -> bool:
    """Mark a shipped shipment delivered (under its order's lock). False if it already was."""
    if shipment.status == Shipment.Status.DELIVERED:
        return False
    if shipment.status != Shipment.Status.SHIPPED:
        raise IllegalTransition(_("the shipment has not shipped"), code="shipment_not_in_transit",
                                detail={"status": shipment.status})
    now = timezone.now()
    Shipment.objects.filter(pk=shipment.pk).update(status=Shipment.Status.DELIVERED, delivered_at=now,
                                                   updated_at=now)
    shipment.status, shipment.delivered_at = Shipment.Status.DELIVERED, now
    record_event(kind="shipment_delivered", actor=actor, target=order,
                 payload={"shipment_id": shipment.pk, "source": source})
    order_shipping_settle(order=order, actor=actor, reason=f"shipment {shipment.pk} delivered ({source})")
    return True


def shipment_deliver(*, shipment_id: int, source: str = "carrier", actor=None, supplier=None) -> Order:
    """One shipment arrived: reported by the carrier's tracking push, the supplier (console) or the buyer.
    Idempotent: a shipment already delivered stays as it is. The order is delivered when all of its are."""
    scope = {"supplier": supplier} if supplier is not None else {}
    with transaction.atomic():
        order, shipment = locks.shipment_for_update(shipment_id=shipment_id, **scope)
        if shipment is None:
            raise NotFound(_("no such shipment"), code="shipment_not_found")
        shipment_deliver_locked(order=order, shipment=shipment, source=source, actor=actor)
    return order


def order_confirm_receipt(*, order_id: int, buyer=None) -> Order:
    """The buyer confirms receipt (or the timer does when `buyer` is None): shipped or delivered -> completed.
    Shipments the carrier has not reported yet count as delivered from now."""
    with transaction.atomic():
        order = order_lock(order_id=order_id, buyer=buyer)
        if order.status not in (S.SHIPPED, S.DELIVERED):
            raise IllegalTransition(_("the order has not shipped completely"),
                                    detail={"status": order.status})
        source = "buyer" if buyer is not None else "auto_confirm"
        for shipment in order.shipments.filter(status=Shipment.Status.SHIPPED).order_by("pk"):
            shipment_deliver_locked(order=order, shipment=shipment, source=source, actor=buyer)
        order_transition(order=order, axis="status", to=S.COMPLETED, actor=buyer,
                         reason="confirmed" if buyer else "auto_confirmed", completed_at=timezone.now())
        record_event(kind="order_completed", actor=order.buyer, target=order, payload={"auto": buyer is None})
    return order


def order_auto_confirm(*, order_id: int) -> bool:
    """自动确认收货: confirm receipt ORDER_AUTO_CONFIRM_DAYS after the order shipped, if nobody did."""
    order = Order.objects.filter(pk=order_id, status__in=(S.SHIPPED, S.DELIVERED)).first()
    due = timezone.now() - settings.ORDER_AUTO_CONFIRM_AFTER
    if order is None or order.shipped_at is None or order.shipped_at > due:
        return False
    try:
        order_confirm_receipt(order_id=order_id)
    except (IllegalTransition, Conflict):
        return False  # confirmed by the buyer meanwhile
    return True


def orders_auto_confirm_due(*, limit: int = 500) -> int:
    """Sweep (beat, every 30 minutes): a days-long timer needs no task of its own."""
    cutoff = timezone.now() - settings.ORDER_AUTO_CONFIRM_AFTER
    ids = list(Order.objects.filter(status__in=(S.SHIPPED, S.DELIVERED), shipped_at__lte=cutoff)
               .order_by("shipped_at").values_list("pk", flat=True)[:limit])
    return sum(order_auto_confirm(order_id=order_id) for order_id in ids)
