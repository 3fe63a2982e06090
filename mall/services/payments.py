"""Payments: the provider's signed "paid" callback, what a client needs to pay, asking a provider about an order
whose callback never came, the simulated gateway's pay step.

The callback is idempotent on the provider's transaction id (unique constraint) and pays an order at most once (a
partial unique index on succeeded payments per order), even when the same callback arrives many times at once. A
payment the order cannot take (it closed meanwhile, or it was already paid with another transaction) is recorded
as `returned` and refunded, and the provider still gets a 2xx: the money was taken, it must go back, and the
provider must stop retrying. A bad signature or an amount that is not the order's total is refused.
A payment found by asking the provider (`payment_query`) goes through the same steps as its callback.
"""
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, NotFound, ServiceUnavailable
from core.events import record_event
from mall import selectors
from mall.models import Order, Payment, UserCoupon
from mall.services import locks, promotions, refunds
from mall.services.orders import IllegalTransition, order_transitions
from mall.services.payment_providers import (
    NoticeIgnored,
    PaymentNotice,
    ProviderUnavailable,
    SimulatedGateway,
    provider_enabled,
    provider_get,
    providers_enabled,
)
from supply import services as supply_services

S = Order.Status
P = Order.PaymentStatus
SIMULATED = "simulated"


def sign(body: bytes, *, secret: str | None = None) -> str:
    """The simulated gateway's signature of a callback body (tests and tools sign their own callbacks with it)."""
    return SimulatedGateway(secret).sign(body)


def payment_callback(*, provider: str, body: bytes, headers: Mapping[str, str]) -> Payment | None:
    """Handle a provider's "paid" notice. Safe to receive any number of times, concurrently. None for a genuine
    notice that pays nothing (the provider is told it arrived)."""
    lowered = {str(name).lower(): value for name, value in headers.items()}
    try:
        notice = provider_get(provider).parse_notice(body=body, headers=lowered)
    except NoticeIgnored:
        return None
    return payment_notice_apply(notice=notice)


def payment_notice_apply(*, notice: PaymentNotice) -> Payment:
    """Record a verified payment: pay the order, or record and refund a payment it cannot take. Idempotent on the
    provider's transaction id."""
    existing = Payment.objects.filter(provider=notice.provider,
                                      provider_transaction_id=notice.transaction_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _payment_apply(notice)
    except IntegrityError:
        existing = Payment.objects.filter(provider=notice.provider,
                                          provider_transaction_id=notice.transaction_id).first()
        if existing is None:
            raise
        return existing


def _payment_apply(notice: PaymentNotice) -> Payment:
    order = locks.order_for_update(number=notice.order_number)
    if order is None:
        raise NotFound(_("no such order"), code="order_not_found")
    # A concurrent copy of this callback that committed meanwhile makes the INSERT below fail on the unique
    # transaction id: `payment_callback` then answers with that copy's payment.
    if notice.amount != order.total:
        raise BusinessRuleViolation(_("paid amount differs from the order total"),
                                    code="amount_mismatch",
                                    detail={"expected": str(order.total), "received": str(notice.amount)})
    payable = order.status == S.PENDING_PAYMENT and order.payment_status == P.UNPAID
    payment = Payment.objects.create(order=order, provider=notice.provider,
                                     provider_transaction_id=notice.transaction_id, amount=notice.amount,
                                     status=Payment.Status.SUCCEEDED if payable else Payment.Status.RETURNED,
                                     payload={"order_number": notice.order_number, "amount": str(notice.amount)})
    if not payable:
        # Paid after it was cancelled, or paid twice: the money goes straight back.
        reason = "late_or_duplicate_payment"
        refunds.refund_request(order=order, payment=payment, amount=payment.amount, reason=reason,
                               reference=f"returned:{payment.pk}")
        record_event(kind="payment_refunded_late", actor=order.buyer, target=order,
                     payload={"transaction_id": notice.transaction_id, "amount": notice.amount, "reason": reason})
        return payment
    now = timezone.now()
    order_transitions(order=order, moves={"payment_status": P.PAID, "status": promotions.paid_status(order)},
                      reason=f"paid {notice.transaction_id}", paid_at=now)
    lines = list(order.lines.order_by("pk"))
    supply_services.stock_consume_many(items=[(line.sku_id, line.quantity) for line in lines],
                                       reference=order.number)
    if order.coupon_id:
        UserCoupon.objects.filter(pk=order.coupon_id, status=UserCoupon.Status.LOCKED).update(
            status=UserCoupon.Status.USED, used_at=now, updated_at=now)
    promotions.order_paid(order)
    record_event(kind="order_paid", actor_id=order.buyer_id, target=order,
                 payload={"total": order.total, "store_id": order.store_id, "kind": order.kind,
                          "lines": [[line.sku_code, line.quantity] for line in lines]})
    selectors.relations_remember(order, lines=lines)
    return payment


def payment_checkout(*, order: Order, provider: str | None = None) -> dict:
    """What the client needs to pay the order with `provider` (default: the first enabled one): where to pay and
    how much, or the signed parameters of the provider's client (WeChat's wx.requestPayment). May call the
    provider (WeChat Pay's prepay): never inside a transaction."""
    if order.status != S.PENDING_PAYMENT:
        raise IllegalTransition(_("the order is not awaiting payment"), code="order_not_payable",
                                detail={"status": order.status})
    if order.pay_deadline <= timezone.now():
        raise IllegalTransition(_("the payment window has closed"), code="order_pay_expired")
    if provider is None:
        enabled = providers_enabled()
        if not enabled:
            raise NotFound(_("unknown payment provider"), code="provider_unknown")
        return enabled[0].checkout(order=order)
    return provider_get(provider).checkout(order=order)


def payment_query(*, order_id: int) -> Payment | None:
    """Ask the enabled providers about an unpaid order whose callback never came (a sweep or an operator calls
    this, outside any transaction). A payment a provider reports is applied exactly as its callback would be;
    None when no provider holds one."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("no such order"), code="order_not_found")
    if order.payment_status != P.UNPAID:
        return order.payments.filter(status=Payment.Status.SUCCEEDED).first()
    for provider in providers_enabled():
        try:
            notice = provider.query(order_number=order.number)
        except ProviderUnavailable as error:
            raise ServiceUnavailable(_("the payment provider cannot be reached; try again shortly"),
                                     code="payment_provider_unavailable",
                                     detail={"provider": provider.name}) from error
        if notice is not None:
            return payment_notice_apply(notice=notice)
    return None


def simulated_gateway_enabled() -> bool:
    return provider_enabled(SIMULATED)


def simulated_gateway_pay(*, order: Order) -> Payment:
    """The simulated gateway takes the money and notifies us exactly as a real one would: a signed callback.
    Exists only while the simulated gateway is enabled (debug, or named in PAYMENT_PROVIDERS)."""
    if not simulated_gateway_enabled():
        raise NotFound(_("no such endpoint"), code="not_found")
    payment_checkout(order=order, provider=SIMULATED)
    gateway = provider_get(SIMULATED)
    body, headers = gateway.paid_notice(order=order)
    return payment_callback(provider=gateway.name, body=body, headers=headers)
