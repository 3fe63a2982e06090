"""After-sales (售后): refund only (仅退款) and return and refund (退货退款).

Flow:
    requested --approve (refund only)--> refunded
    requested --approve (return)--> awaiting_return --shopper ships--> return_shipped --merchant confirms--> refunded
    requested / awaiting_return --shopper withdraws--> withdrawn
    requested / return_shipped --merchant refuses--> refused

Money (all Decimal, cents, half-up):
- a line refunds what was paid for it (its coupon share already deducted), per unit: the request that takes the
  last units not yet refunded gets exactly what is left of the line's paid amount, others get
  paid_amount x quantity / line quantity; so the parts always add up to what was paid;
- the order's shipping fee comes back only when, after this refund, every unit of the order is refunded and no
  shipment has left (the shopper received nothing);
- never more than the order's total minus what it already refunded (and `refund_issue` checks the payment too).
The amount is computed when the shopper asks (to show it) and again at the refund, under the order's lock: other
lines may have been refunded or a shipment may have left in between.

Every after-sale write locks the order first, then the after-sale row, so the after-sales of one order and its
refunds run one at a time. Order axes change only through `orders.order_transition`.
"""
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from core.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from core.events import record_event
from core.money import ZERO, to_money
from mall.models import AfterSale, Order, OrderLine, Shipment, Store
from mall.services.coupons import coupon_restore
from mall.services.orders import order_transition
from mall.services.payments import refund_issue
from supply import services as supply_services

AS = AfterSale.Status
S = Order.Status
P = Order.PaymentStatus
A = Order.AfterSaleStatus
OPEN = (AS.REQUESTED, AS.AWAITING_RETURN, AS.RETURN_SHIPPED)
REFUNDABLE_STATUSES = (S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED)
REFUNDABLE_PAYMENTS = (P.PAID, P.PARTIALLY_REFUNDED)
WINDOW_FROM_DELIVERY = (S.DELIVERED, S.COMPLETED)


class AfterSaleNotFound(NotFound):
    code = "after_sale_not_found"
    message = "售后申请不存在 (no such after-sale request)"


class AfterSaleStateInvalid(Conflict):
    code = "after_sale_state_invalid"
    message = "售后申请当前状态不允许此操作 (the request's state does not allow this)"


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


def refund_amount_for(*, line: OrderLine, quantity: int, include_shipping: bool) -> Decimal:
    """The refund of `quantity` units of `line`, plus the order's shipping fee when `include_shipping`, never more
    than what the order still holds (total - refunded_total)."""
    order = line.order
    amount = refund_goods_amount(line=line, quantity=quantity)
    if include_shipping:
        amount += order.shipping_fee
    return max(min(amount, order.total - order.refunded_total), ZERO)


def refund_includes_shipping(*, order: Order, line: OrderLine, quantity: int) -> bool:
    """Shipping comes back when this refund leaves every unit of the order refunded and nothing has shipped."""
    if order.shipments.exclude(status=Shipment.Status.PENDING).exists():
        return False
    for other in order.lines.all():
        refunded = other.refunded_quantity + (quantity if other.pk == line.pk else 0)
        if refunded < other.quantity:
            return False
    return True


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
        raise ValidationFailed("售后类型无效 (unknown after-sale kind)", code="after_sale_kind_invalid",
                               detail={"kinds": list(AfterSale.Kind.values)})
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValidationFailed("数量须为正整数 (quantity must be a positive integer)",
                               code="after_sale_quantity_invalid")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("请填写售后原因 (give a reason)", code="after_sale_reason_required")
    try:
        with transaction.atomic():
            order = Order.objects.select_for_update(of=("self",)).filter(pk=order_id, buyer=buyer).first()
            if order is None:
                raise NotFound("订单不存在 (no such order)", code="order_not_found")
            line = OrderLine.objects.select_related("shipment").filter(pk=line_id, order=order).first()
            if line is None:
                raise NotFound("订单明细不存在 (no such line in this order)", code="order_line_not_found")
            line.order = order
            _check_requestable(order=order, line=line, kind=kind, quantity=quantity)
            amount = refund_amount_for(line=line, quantity=quantity, include_shipping=refund_includes_shipping(
                order=order, line=line, quantity=quantity))
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
    return BusinessRuleViolation("该商品已有处理中的售后申请 (this item already has an open request)",
                                 code="after_sale_already_open")


def _check_requestable(*, order: Order, line: OrderLine, kind: str, quantity: int) -> None:
    if order.payment_status not in REFUNDABLE_PAYMENTS or order.status not in REFUNDABLE_STATUSES:
        raise BusinessRuleViolation("该订单当前不能申请售后 (this order cannot be refunded now)",
                                    code="after_sale_not_allowed",
                                    detail={"status": order.status, "payment_status": order.payment_status})
    if kind == AfterSale.Kind.RETURN_REFUND and line.shipment.status != Shipment.Status.DELIVERED:
        raise BusinessRuleViolation("商品签收后才能退货 (a return needs the item delivered)",
                                    code="after_sale_not_delivered", detail={"shipment_status": line.shipment.status})
    if (order.status in WINDOW_FROM_DELIVERY and order.delivered_at is not None
            and timezone.now() > order.delivered_at + settings.AFTER_SALE_WINDOW):
        raise BusinessRuleViolation("已超过售后期限 (the after-sale window has closed)",
                                    code="after_sale_window_closed",
                                    detail={"delivered_at": order.delivered_at.isoformat(),
                                            "window_days": settings.AFTER_SALE_WINDOW.days})
    if AfterSale.objects.filter(line=line, status__in=OPEN).exists():
        raise _already_open()
    # Only one request per line can be open (checked above, and a partial unique constraint), so what is left to
    # ask for is what has not been refunded.
    left = line.quantity - line.refunded_quantity
    if quantity > left:
        raise BusinessRuleViolation(f"最多可申请 {left} 件 (at most {left} units can be refunded)",
                                    code="after_sale_quantity_exceeded", detail={"available": left})


def _lock(*, after_sale_id: int, buyer=None, store: Store | None = None) -> tuple[Order, AfterSale]:
    """Lock the order, then the after-sale (every after-sale write takes them in this order)."""
    scope = AfterSale.objects.filter(pk=after_sale_id)
    if buyer is not None:
        scope = scope.filter(requester=buyer)
    if store is not None:
        scope = scope.filter(order__store=store)
    order_id = scope.values_list("order_id", flat=True).first()
    if order_id is None:
        raise AfterSaleNotFound()
    order = Order.objects.select_for_update(of=("self",)).get(pk=order_id)
    after_sale = AfterSale.objects.select_for_update(of=("self",)).select_related("line").get(pk=after_sale_id)
    after_sale.order = order
    after_sale.line.order = order
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


def _settle_order_after_sale_status(order: Order, *, actor, reason: str) -> None:
    """When no request of the order is open any more, its after-sale axis says what was refunded."""
    if AfterSale.objects.filter(order=order, status__in=OPEN).exists():
        return
    if not order.lines.filter(refunded_quantity__lt=F("quantity")).exists():
        to = A.REFUNDED
    elif order.refunded_total > 0 or order.lines.filter(refunded_quantity__gt=0).exists():
        to = A.PARTIALLY_REFUNDED
    else:
        to = A.NONE
    order_transition(order=order, axis="after_sale_status", to=to, actor=actor, reason=reason)


def after_sale_return_ship(*, buyer, after_sale_id: int, carrier: str, tracking_number: str) -> AfterSale:
    """The shopper has sent the goods back."""
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    if not carrier or not tracking_number:
        raise ValidationFailed("请填写快递公司和运单号 (carrier and tracking number are required)",
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
        _settle_order_after_sale_status(order, actor=buyer, reason=f"after-sale {after_sale.pk} withdrawn")
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
        raise ValidationFailed("请填写拒绝原因 (say why)", code="after_sale_note_required")
    with transaction.atomic():
        order, after_sale = _lock(after_sale_id=after_sale_id, store=store)
        _require(after_sale, AS.REQUESTED, AS.RETURN_SHIPPED)
        _move(after_sale, AS.REFUSED, merchant_note=note[:200], decided_at=timezone.now())
        _settle_order_after_sale_status(order, actor=actor, reason=f"after-sale {after_sale.pk} refused")
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
    """Pay back, book it on the line and the order, move the order's axes. Runs under the order's lock."""
    line = OrderLine.objects.select_for_update(of=("self",)).select_related("shipment").get(pk=after_sale.line_id)
    line.order = order
    quantity = after_sale.quantity
    if quantity > line.quantity - line.refunded_quantity:
        raise BusinessRuleViolation("退款数量超过可退数量 (more units than are left to refund)",
                                    code="after_sale_quantity_exceeded",
                                    detail={"available": line.quantity - line.refunded_quantity})
    include_shipping = refund_includes_shipping(order=order, line=line, quantity=quantity)
    amount = refund_amount_for(line=line, quantity=quantity, include_shipping=include_shipping)
    goods = min(refund_goods_amount(line=line, quantity=quantity), amount)
    if amount > 0:
        refund_issue(order=order, amount=amount, reason=f"售后 after-sale {after_sale.pk}: {after_sale.reason}",
                     reference=f"after-sale:{after_sale.pk}")
    booked = OrderLine.objects.filter(pk=line.pk, refunded_quantity__lte=F("quantity") - quantity).update(
        refunded_quantity=F("refunded_quantity") + quantity, refunded_amount=F("refunded_amount") + goods)
    if not booked:
        raise Conflict("订单明细已变化，请重试 (the line changed meanwhile)", code="order_state_changed")
    if amount > 0 and not Order.objects.filter(pk=order.pk, refunded_total__lte=F("total") - amount).update(
            refunded_total=F("refunded_total") + amount, updated_at=timezone.now()):
        raise BusinessRuleViolation("退款金额超过实付金额 (refund exceeds what was paid)", code="refund_exceeds_paid")
    order.refunded_total += amount
    if after_sale.kind == AfterSale.Kind.REFUND_ONLY and line.shipment.status == Shipment.Status.PENDING:
        # The goods never left the warehouse: they are sellable again.
        supply_services.stock_restock(sku_id=line.sku_id, quantity=quantity, reference=f"after-sale:{after_sale.pk}")

    reason = f"after-sale {after_sale.pk}"
    if amount > 0:
        order_transition(order=order, axis="payment_status",
                         to=P.REFUNDED if order.refunded_total >= order.total else P.PARTIALLY_REFUNDED,
                         actor=actor, reason=reason)
    now = timezone.now()
    _move(after_sale, AS.REFUNDED, refund_amount=amount, refunded_at=now, **fields)
    everything_refunded = not order.lines.filter(refunded_quantity__lt=F("quantity")).exists()
    _settle_order_after_sale_status(order, actor=actor, reason=reason)
    if everything_refunded:
        order_transition(order=order, axis="status", to=S.CLOSED, actor=actor, reason=f"{reason}: fully refunded")
        if order.coupon_id:
            coupon_restore(coupon_id=order.coupon_id)
    record_event(kind="after_sale_refunded", actor=actor, target=after_sale,
                 payload={"order_id": order.pk, "line_id": line.pk, "quantity": quantity, "amount": amount,
                          "shipping_refunded": include_shipping, "order_closed": everything_refunded})
