"""After-sales (售后): refund only (仅退款) and return and refund (退货退款).

Flow:
    requested --approve (refund only)--> refunded
    requested --approve (return)--> awaiting_return --shopper ships--> return_shipped --merchant confirms--> refunded
    requested / awaiting_return --shopper withdraws--> withdrawn
    requested / return_shipped --merchant refuses--> refused

Money follows the rules of `refunds` (per-unit share of what was paid, shipping only when nothing shipped and
everything is refunded, never more than was paid). The amount is computed when the shopper asks (to show it) and
again at the refund, under the order's lock: other lines may have been refunded or a shipment may have left in
between. The refund itself is booked by `refunds.refund_book`, the one booking service, and sent after commit.

Every after-sale write locks the order first, then the after-sale row (`locks`), so the after-sales of one order
and its refunds run one at a time. Order axes change only through `orders.order_transition`.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from core.events import record_event
from mall.models import AfterSale, Order, OrderLine, Shipment, Store
from mall.services import locks
from mall.services.orders import order_transition
from mall.services.refunds import OPEN_AFTER_SALES, after_sale_axis_settle, refund_book, refund_quote
from supply import services as supply_services

AS = AfterSale.Status
S = Order.Status
P = Order.PaymentStatus
A = Order.AfterSaleStatus
OPEN = OPEN_AFTER_SALES
REFUNDABLE_STATUSES = (S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED)
REFUNDABLE_PAYMENTS = (P.PAID, P.PARTIALLY_REFUNDED)
WINDOW_FROM_DELIVERY = (S.DELIVERED, S.COMPLETED)


class AfterSaleNotFound(NotFound):
    code = "after_sale_not_found"
    message = _("no such after-sale request")


class AfterSaleStateInvalid(Conflict):
    code = "after_sale_state_invalid"
    message = _("the request's state does not allow this")


# --- reads ------------------------------------------------------------------------------------------------------
def after_sales_of(*, buyer) -> QuerySet[AfterSale]:
    return (AfterSale.objects.filter(requester=buyer).select_related("order", "line")
            .order_by("-created_at", "-pk"))


def after_sale_for_buyer(*, buyer, after_sale_id: int) -> AfterSale:
    after_sale = after_sales_of(buyer=buyer).filter(pk=after_sale_id).first()
    if after_sale is None:
        raise AfterSaleNotFound()
    return after_sale


# --- shopper actions --------------------------------------------------------------------------------------------
def after_sale_request(*, buyer, order_id: int, line_id: int, kind: str, quantity: int, reason: str) -> AfterSale:
    """Ask for a refund (or a return and refund) of some units of one line of a paid order."""
    if kind not in AfterSale.Kind.values:
        raise ValidationFailed(_("unknown after-sale kind"), code="after_sale_kind_invalid",
                               detail={"kinds": list(AfterSale.Kind.values)})
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValidationFailed(_("quantity must be a positive integer"),
                               code="after_sale_quantity_invalid")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("give a reason"), code="after_sale_reason_required")
    try:
        with transaction.atomic():
            order = locks.order_for_update(order_id=order_id, buyer=buyer)
            if order is None:
                raise NotFound(_("no such order"), code="order_not_found")
            line = OrderLine.objects.select_related("shipment").filter(pk=line_id, order=order).first()
            if line is None:
                raise NotFound(_("no such line in this order"), code="order_line_not_found")
            line.order = order
            _check_requestable(order=order, line=line, kind=kind, quantity=quantity)
            amount, _goods, _shipping = refund_quote(order=order, parts=[(line, quantity)])
            after_sale = AfterSale.objects.create(order=order, line=line, requester=buyer, kind=kind,
                                                  quantity=quantity, reason=reason[:200], refund_amount=amount)
            order_transition(order=order, axis="after_sale_status", to=A.IN_PROGRESS, actor=buyer,
                             reason=f"after-sale {after_sale.pk} requested")
            record_event(kind="after_sale_requested", actor=buyer, target=after_sale,
                         payload={"order_id": order.pk, "line_id": line.pk, "kind": kind, "quantity": quantity,
                                  "refund_amount": amount})
    except IntegrityError as error:
        if "one_open_after_sale_per_line" in str(error):
            raise _already_open() from error
        raise
    return after_sale


def _already_open() -> BusinessRuleViolation:
    return BusinessRuleViolation(_("this item already has an open request"),
                                 code="after_sale_already_open")


def _check_requestable(*, order: Order, line: OrderLine, kind: str, quantity: int) -> None:
    if order.payment_status not in REFUNDABLE_PAYMENTS or order.status not in REFUNDABLE_STATUSES:
        raise BusinessRuleViolation(_("this order cannot be refunded now"),
                                    code="after_sale_not_allowed",
                                    detail={"status": order.status, "payment_status": order.payment_status})
    if kind == AfterSale.Kind.RETURN_REFUND and line.shipment.status != Shipment.Status.DELIVERED:
        raise BusinessRuleViolation(_("a return needs the item delivered"),
                                    code="after_sale_not_delivered", detail={"shipment_status": line.shipment.status})
    if (order.status in WINDOW_FROM_DELIVERY and order.delivered_at is not None
            and timezone.now() > order.delivered_at + settings.AFTER_SALE_WINDOW):
        raise BusinessRuleViolation(_("the after-sale window has closed"),
                                    code="after_sale_window_closed",
                                    detail={"delivered_at": order.delivered_at.isoformat(),
                                            "window_days": settings.AFTER_SALE_WINDOW.days})
    if AfterSale.objects.filter(line=line, status__in=OPEN).exists():
        raise _already_open()
    # Only one request per line can be open (checked above, and a partial unique constraint), so what is left to
    # ask for is what has not been refunded.
    left = line.quantity - line.refunded_quantity
    if quantity > left:
        raise BusinessRuleViolation(_("at most %(left)s units can be refunded") % {"left": left},
                                    code="after_sale_quantity_exceeded", detail={"available": left})


def _lock(*, after_sale_id: int, buyer=None, store: Store | None = None) -> tuple[Order, AfterSale]:
    """Lock the order, then the after-sale (every after-sale write takes them in this order)."""
    scope = {}
    if buyer is not None:
        scope["requester"] = buyer
    if store is not None:
        scope["order__store"] = store
    order, after_sale = locks.after_sale_for_update(after_sale_id=after_sale_id, **scope)
    if order is None:
        raise AfterSaleNotFound()
    return order, after_sale


def _require(after_sale: AfterSale, *statuses: str) -> None:
    if after_sale.status not in statuses:
        raise AfterSaleStateInvalid(detail={"status": after_sale.status, "expected": list(statuses)})


def _move(after_sale: AfterSale, to: str, **fields) -> None:
    """Conditional UPDATE: the after-sale moves only from the status it was read in."""
    now = timezone.now()
    if not AfterSale.objects.filter(pk=after_sale.pk, status=after_sale.status).update(status=to, updated_at=now,
                                                                                         **fields):
        raise AfterSaleStateInvalid(detail={"status": after_sale.status})
    after_sale.status = to
    for name, value in fields.items():
        setattr(after_sale, name, value)


def after_sale_return_ship(*, buyer, after_sale_id: int, carrier: str, tracking_number: str) -> AfterSale:
    """The shopper has sent the goods back."""
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    if not carrier or not tracking_number:
        raise ValidationFailed(_("carrier and tracking number are required"),
                               code="return_tracking_required")
    with transaction.atomic():
        _order, after_sale = _lock(after_sale_id=after_sale_id, buyer=buyer)
        _require(after_sale, AS.AWAITING_RETURN)
        _move(after_sale, AS.RETURN_SHIPPED, return_carrier=carrier[:64], return_tracking_number=tracking_number[:64])
        record_event(kind="after_sale_return_shipped", actor=buyer, target=after_sale,
                     payload={"carrier": carrier, "tracking_number": tracking_number})
    return after_sale


def after_sale_withdraw(*, buyer, after_sale_id: int) -> AfterSale:
    """The shopper takes the request back (before the goods are on their way back)."""
    with transaction.atomic():
        order, after_sale = _lock(after_sale_id=after_sale_id, buyer=buyer)
        _require(after_sale, AS.REQUESTED, AS.AWAITING_RETURN)
        _move(after_sale, AS.WITHDRAWN)
        after_sale_axis_settle(order=order, actor=buyer, reason=f"after-sale {after_sale.pk} withdrawn")
        record_event(kind="after_sale_withdrawn", actor=buyer, target=after_sale)
    return after_sale


# --- merchant actions (merchant console) ------------------------------------------------------------------------
def after_sale_approve(*, after_sale_id: int, store: Store, actor) -> AfterSale:
    """The store agrees: a refund-only request is refunded now; a return waits for the goods."""
    with transaction.atomic():
        order, after_sale = _lock(after_sale_id=after_sale_id, store=store)
        _require(after_sale, AS.REQUESTED)
        if after_sale.kind == AfterSale.Kind.REFUND_ONLY:
            _refund(order=order, after_sale=after_sale, actor=actor, decided_at=timezone.now())
        else:
            _move(after_sale, AS.AWAITING_RETURN, decided_at=timezone.now())
        record_event(kind="after_sale_approved", actor=actor, target=after_sale,
                     payload={"order_id": order.pk, "kind": after_sale.kind})
    return after_sale


def after_sale_refuse(*, after_sale_id: int, store: Store, actor, note: str) -> AfterSale:
    """The store refuses (on review, or after inspecting returned goods), with a note the shopper sees."""
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(_("say why"), code="after_sale_note_required")
    with transaction.atomic():
        order, after_sale = _lock(after_sale_id=after_sale_id, store=store)
        _require(after_sale, AS.REQUESTED, AS.RETURN_SHIPPED)
        _move(after_sale, AS.REFUSED, merchant_note=note[:200], decided_at=timezone.now())
        after_sale_axis_settle(order=order, actor=actor, reason=f"after-sale {after_sale.pk} refused")
        record_event(kind="after_sale_refused", actor=actor, target=after_sale, payload={"note": note[:200]})
    return after_sale


def after_sale_confirm_return(*, after_sale_id: int, store: Store, actor) -> AfterSale:
    """The store has received the returned goods: refund, and the goods go back into stock."""
    with transaction.atomic():
        order, after_sale = _lock(after_sale_id=after_sale_id, store=store)
        _require(after_sale, AS.RETURN_SHIPPED)
        _refund(order=order, after_sale=after_sale, actor=actor)
        supply_services.stock_restock(sku_id=after_sale.line.sku_id, quantity=after_sale.quantity,
                                      reference=f"after-sale:{after_sale.pk}")
    return after_sale


# --- the refund step --------------------------------------------------------------------------------------------
def _refund(*, order: Order, after_sale: AfterSale, actor, **fields) -> None:
    """Book the refund through the one booking service, then close the request. Runs under the order's lock."""
    line = locks.lines_for_update(order=order, line_ids=[after_sale.line_id])[after_sale.line_id]
    line.order = order
    booking = refund_book(order=order, parts=[(line, after_sale.quantity)],
                          reason=f"售后 after-sale {after_sale.pk}: {after_sale.reason}",
                          reference=f"after-sale:{after_sale.pk}", actor=actor, closing_after_sale_id=after_sale.pk)
    _move(after_sale, AS.REFUNDED, refund_amount=booking.amount, refunded_at=timezone.now(), **fields)
    record_event(kind="after_sale_refunded", actor=actor, target=after_sale,
                 payload={"order_id": order.pk, "line_id": line.pk, "quantity": after_sale.quantity,
                          "amount": booking.amount, "shipping_refunded": booking.shipping_included,
                          "order_closed": booking.order_closed})
