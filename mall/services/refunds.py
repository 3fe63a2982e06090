"""Refunds: one booking service for every refund of an order, and the sending of the money outside transactions.

Booking (`refund_book`, under the order's lock, in the caller's transaction) is the same whoever asks: an
after-sale, a failed group-buy team. It computes what the units refund (the money rules below), writes a `pending`
Refund, books it on the lines and the order, gives back stock that never left the warehouse (and cancels a pending
shipment left with nothing to ship), moves the order's axes, and closes the order with its coupon back once every
unit is refunded.

Sending (`refund_send`) runs after commit in a Celery task, outside any database transaction: it calls the
provider (idempotent on the refund's reference), then records `succeeded` or `failed`. A transient failure is
retried with backoff up to REFUND_MAX_ATTEMPTS; a sweep sends refunds whose task was lost; an operator retries a
failed one from the admin (`refund_retry`).

Money (all Decimal, cents, half-up):
- a line refunds what was paid for it (its coupon share already deducted), per unit: the refund that takes the
  last units not yet refunded gets exactly what is left of the line's paid amount, others get
  paid_amount x quantity / line quantity; so the parts always add up to what was paid;
- the order's shipping fee comes back only when, after this refund, every unit of the order is refunded and no
  shipment has left (the shopper received nothing);
- never more than the order's total minus what it already refunded, nor more than its payment minus what that
  payment already refunded.
"""
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, Conflict, NotFound
from core.events import record_event
from core.money import ZERO, to_money
from core.transactions import enqueue_on_commit
from mall.models import AfterSale, Order, OrderLine, Payment, Refund, Shipment
from mall.services import locks
from mall.services.coupons import coupon_restore
from mall.services.orders import order_shipping_settle, order_transition
from mall.services.payment_providers import ProviderUnavailable, RefundDeclined, provider_get
from supply import services as supply_services

logger = logging.getLogger(__name__)

S = Order.Status
P = Order.PaymentStatus
A = Order.AfterSaleStatus
OPEN_AFTER_SALES = AfterSale.OPEN_STATUSES


class RefundRetryLater(Exception):
    """The provider could not take the refund now; the task retries it with backoff."""


# --- pure money rules -------------------------------------------------------------------------------------------
def refund_goods_amount(*, line: OrderLine, quantity: int) -> Decimal:
    """What `quantity` units of a line refund (no shipping): a per-unit share of what was paid for the line; the
    last units not yet refunded take exactly what is left, so the refunds of a line add up to its paid amount."""
    not_refunded = line.quantity - line.refunded_quantity
    if quantity < 1 or quantity > not_refunded:
        raise ValueError(f"cannot refund {quantity} of {not_refunded} units left")
    if quantity == not_refunded:
        return line.paid_amount - line.refunded_amount
    return min(to_money(line.paid_amount * quantity / line.quantity), line.paid_amount - line.refunded_amount)


def refund_includes_shipping(*, order: Order, parts: dict[int, int]) -> bool:
    """Shipping comes back when this refund (line id -> units) leaves every unit of the order refunded and
    nothing has shipped."""
    if order.shipments.filter(status__in=(Shipment.Status.SHIPPED, Shipment.Status.DELIVERED)).exists():
        return False
    return all(line.refunded_quantity + parts.get(line.pk, 0) >= line.quantity for line in order.lines.all())


def refund_amount(*, order: Order, goods: Decimal, include_shipping: bool) -> Decimal:
    """The goods' refund plus the order's shipping fee when included, never more than the order still holds."""
    amount = goods + (order.shipping_fee if include_shipping else ZERO)
    return max(min(amount, order.total - order.refunded_total), ZERO)


def refund_quote(*, order: Order, parts: list[tuple[OrderLine, int]]) -> tuple[Decimal, dict[int, Decimal], bool]:
    """(amount, goods per line id, shipping included) of refunding these units now."""
    goods = {line.pk: refund_goods_amount(line=line, quantity=quantity) for line, quantity in parts}
    include_shipping = refund_includes_shipping(order=order, parts={line.pk: quantity for line, quantity in parts})
    amount = refund_amount(order=order, goods=sum(goods.values(), ZERO), include_shipping=include_shipping)
    return amount, goods, include_shipping


# --- booking ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RefundBooking:
    amount: Decimal
    shipping_included: bool
    order_closed: bool
    refund: Refund | None


def refund_request(*, order: Order, amount: Decimal, reason: str, reference: str, payment: Payment | None = None,
                   actor=None) -> Refund:
    """Write a pending refund in the caller's transaction; a task sends it after commit. Idempotent on
    `reference`. `payment` defaults to the order's successful payment."""
    existing = Refund.objects.filter(reference=reference).first()
    if existing is not None:
        return existing
    payment = payment or order.payments.filter(status=Payment.Status.SUCCEEDED).first()
    if payment is None:
        raise BusinessRuleViolation(_("nothing was paid on this order"), code="nothing_to_refund")
    amount = to_money(amount)
    already = payment.refunds.aggregate(total=Sum("amount"))["total"] or ZERO
    if amount <= 0 or already + amount > payment.amount:
        raise BusinessRuleViolation(_("refund exceeds what was paid"), code="refund_exceeds_paid",
                                    detail={"paid": str(payment.amount), "refunded": str(already)})
    try:
        provider_get(payment.provider)
    except NotFound as error:
        raise BusinessRuleViolation(_("this payment cannot be refunded online"),
                                    code="refund_not_supported", detail={"provider": payment.provider}) from error
    refund = Refund.objects.create(order=order, payment=payment, amount=amount, reason=reason[:200],
                                   reference=reference, status=Refund.Status.PENDING)
    record_event(kind="refund_requested", actor=actor, target=order,
                 payload={"amount": amount, "reason": reason[:200], "refund_id": refund.pk})
    enqueue_on_commit("mall.refund_send_task", refund.pk)
    return refund


def refund_book(*, order: Order, parts: list[tuple[OrderLine, int]], reason: str, reference: str, actor=None,
                closing_after_sale_id: int | None = None) -> RefundBooking:
    """Book the refund of `parts` (line, units) of a paid order the caller has locked, lines locked too.

    `closing_after_sale_id` names the after-sale this refund settles (it no longer counts as open)."""
    for line, quantity in parts:
        left = line.quantity - line.refunded_quantity
        if quantity < 1 or quantity > left:
            raise BusinessRuleViolation(_("more units than are left to refund"),
                                        code="after_sale_quantity_exceeded",
                                        detail={"line_id": line.pk, "available": left})
    amount, goods, include_shipping = refund_quote(order=order, parts=parts)
    refund = None
    if amount > 0:
        refund = refund_request(order=order, amount=amount, reason=reason, reference=reference, actor=actor)
    pending_shipments, restock = set(), []
    for line, quantity in parts:
        line_goods = min(goods[line.pk], amount)
        booked = OrderLine.objects.filter(pk=line.pk, refunded_quantity__lte=F("quantity") - quantity).update(
            refunded_quantity=F("refunded_quantity") + quantity, refunded_amount=F("refunded_amount") + line_goods)
        if not booked:
            raise Conflict(_("the line changed meanwhile"), code="order_state_changed")
        line.refunded_quantity += quantity
        line.refunded_amount += line_goods
        if line.shipment.status == Shipment.Status.PENDING:
            # The goods never left the warehouse: sellable again, and the shipment lists fewer units.
            restock.append((line.sku_id, quantity))
            pending_shipments.add(line.shipment_id)
    supply_services.stock_restock_many(items=restock, reference=reference)
    if amount > 0 and not Order.objects.filter(pk=order.pk, refunded_total__lte=F("total") - amount).update(
            refunded_total=F("refunded_total") + amount, updated_at=timezone.now()):
        raise BusinessRuleViolation(_("refund exceeds what was paid"), code="refund_exceeds_paid")
    order.refunded_total += amount
    note = reason[:120]
    if amount > 0:
        order_transition(order=order, axis="payment_status",
                         to=P.REFUNDED if order.refunded_total >= order.total else P.PARTIALLY_REFUNDED,
                         actor=actor, reason=note)
    everything_refunded = not order.lines.filter(refunded_quantity__lt=F("quantity")).exists()
    _cancel_emptied_shipments(order=order, shipment_ids=pending_shipments)
    after_sale_axis_settle(order=order, actor=actor, reason=note, closing_after_sale_id=closing_after_sale_id)
    if everything_refunded:
        order_transition(order=order, axis="status", to=S.CLOSED, actor=actor, reason=f"{note}: fully refunded")
        if order.coupon_id:
            coupon_restore(coupon_id=order.coupon_id)
    else:
        order_shipping_settle(order=order, actor=actor, reason=note)
    return RefundBooking(amount=amount, shipping_included=include_shipping, order_closed=everything_refunded,
                         refund=refund)


def _cancel_emptied_shipments(*, order: Order, shipment_ids: set[int]) -> None:
    for shipment_id in sorted(shipment_ids):
        if not OrderLine.objects.filter(shipment_id=shipment_id, refunded_quantity__lt=F("quantity")).exists():
            Shipment.objects.filter(pk=shipment_id, status=Shipment.Status.PENDING).update(
                status=Shipment.Status.CANCELLED, updated_at=timezone.now())


def after_sale_axis_settle(*, order: Order, actor=None, reason: str = "",
                           closing_after_sale_id: int | None = None) -> None:
    """When no after-sale of the order is open any more, its after-sale axis says what was refunded."""
    still_open = AfterSale.objects.filter(order=order, status__in=OPEN_AFTER_SALES)
    if closing_after_sale_id is not None:
        still_open = still_open.exclude(pk=closing_after_sale_id)
    if still_open.exists():
        return
    if not order.lines.filter(refunded_quantity__lt=F("quantity")).exists():
        to = A.REFUNDED
    elif order.refunded_total > 0 or order.lines.filter(refunded_quantity__gt=0).exists():
        to = A.PARTIALLY_REFUNDED
    else:
        to = A.NONE
    order_transition(order=order, axis="after_sale_status", to=to, actor=actor, reason=reason)


# --- sending ----------------------------------------------------------------------------------------------------
def _in_transaction() -> bool:
    """In a transaction of our own (the one a test case wraps around each test does not count)."""
    return any(not getattr(block, "_from_testcase", False) for block in transaction.get_connection().atomic_blocks)


def refund_send(*, refund_id: int) -> str:
    """Send a pending refund to its provider and record the outcome. Runs outside any transaction; safe to run
    twice at once (the provider is idempotent on the reference, the outcome is a conditional UPDATE).
    Returns the refund's status; raises RefundRetryLater when the provider should be tried again later."""
    if _in_transaction():
        raise RuntimeError("refund_send calls the payment provider: never inside a database transaction")
    refund = Refund.objects.select_related("payment").filter(pk=refund_id).first()
    if refund is None:
        return "missing"
    if refund.status != Refund.Status.PENDING:
        return refund.status
    now = timezone.now()
    Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(attempts=F("attempts") + 1,
                                                                             attempted_at=now, updated_at=now)
    attempts = refund.attempts + 1
    try:
        provider = provider_get(refund.payment.provider)
        provider_refund_id = provider.refund(transaction_id=refund.payment.provider_transaction_id,
                                             amount=refund.amount, total=refund.payment.amount,
                                             reference=refund.reference)
    except RefundDeclined as declined:
        return _refund_failed(refund, f"declined: {declined}")
    except NotFound:
        return _refund_failed(refund, f"payment provider {refund.payment.provider!r} is not enabled")
    except (ProviderUnavailable, OSError) as error:
        message = f"{type(error).__name__}: {error}"[:2000]
        if attempts >= settings.REFUND_MAX_ATTEMPTS:
            return _refund_failed(refund, message)
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(last_error=message)
        raise RefundRetryLater(message) from error
    with transaction.atomic():
        if Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
                status=Refund.Status.SUCCEEDED, provider_refund_id=str(provider_refund_id)[:64],
                succeeded_at=timezone.now(), last_error="", updated_at=timezone.now()):
            record_event(kind="refund_succeeded", target=refund.order,
                         payload={"amount": refund.amount, "refund_id": refund.pk})
    return Refund.Status.SUCCEEDED


def _refund_failed(refund: Refund, message: str) -> str:
    logger.error("refund %s failed: %s", refund.pk, message)
    with transaction.atomic():
        if Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
                status=Refund.Status.FAILED, last_error=message[:2000], updated_at=timezone.now()):
            record_event(kind="refund_failed", target=refund.order,
                         payload={"amount": refund.amount, "refund_id": refund.pk, "error": message[:200]})
    return Refund.Status.FAILED


def refunds_send_due(*, limit: int = 200) -> int:
    """Sweep: send pending refunds whose task was lost (older than REFUND_RESEND_AFTER, not tried since)."""
    cutoff = timezone.now() - settings.REFUND_RESEND_AFTER
    ids = list(Refund.objects.filter(status=Refund.Status.PENDING, created_at__lt=cutoff)
               .filter(Q(attempted_at__isnull=True) | Q(attempted_at__lt=cutoff))
               .order_by("created_at").values_list("pk", flat=True)[:limit])
    for refund_id in ids:
        try:
            refund_send(refund_id=refund_id)
        except RefundRetryLater:
            continue  # the next sweep tries again
    return len(ids)


def refund_retry(*, refund_id: int, actor=None) -> Refund:
    """Operator: send a failed refund again (after the cause was fixed, e.g. the merchant account was topped up)."""
    with transaction.atomic():
        refund = locks.refund_for_update(refund_id=refund_id)
        if refund is None:
            raise NotFound(_("no such refund"), code="refund_not_found")
        if refund.status != Refund.Status.FAILED:
            raise Conflict(_("only a failed refund can be retried"), code="refund_not_failed",
                           detail={"status": refund.status})
        Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.PENDING, attempts=0, updated_at=timezone.now())
        refund.status = Refund.Status.PENDING
        enqueue_on_commit("mall.refund_send_task", refund.pk)
    return refund
