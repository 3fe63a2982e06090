"""Payments: a provider interface, the built-in simulated gateway, the signed callback, refunds.

A provider signs its callback body with HMAC-SHA256. The callback is idempotent on the provider's transaction id
(unique constraint), refuses a bad signature and an amount that is not the order's total, and pays an order at most
once (a partial unique index on succeeded payments per order) even when the same callback arrives many times at once.
"""
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import BusinessRuleViolation, NotFound
from core.events import record_event
from core.money import to_money
from mall.models import Order, Payment, Refund, UserCoupon
from mall.services.orders import IllegalTransition, order_transition
from mall.services.payment_providers import PaymentNotice, SimulatedGateway, provider_get
from supply import services as supply_services

S = Order.Status
P = Order.PaymentStatus


def sign(body: bytes, *, secret: str | None = None) -> str:
    """The simulated gateway's signature of a callback body (tests and tools sign their own callbacks with it)."""
    return SimulatedGateway(secret).sign(body)


def notice_parse(*, provider: str, body: bytes, signature: str) -> PaymentNotice:
    return provider_get(provider).parse_notice(body=body, signature=signature)


def payment_callback(*, provider: str, body: bytes, signature: str) -> Payment:
    """Handle a provider's "paid" notice. Safe to receive any number of times, concurrently."""
    notice = notice_parse(provider=provider, body=body, signature=signature)
    existing = Payment.objects.filter(provider=provider, provider_transaction_id=notice.transaction_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _payment_apply(notice)
    except IntegrityError:
        existing = Payment.objects.filter(provider=provider, provider_transaction_id=notice.transaction_id).first()
        if existing is None:
            raise
        return existing


def _payment_apply(notice: PaymentNotice) -> Payment:
    order = Order.objects.select_for_update(of=("self",)).filter(number=notice.order_number).first()
    if order is None:
        raise NotFound("订单不存在 (no such order)", code="order_not_found")
    # Re-check under the order lock: a concurrent copy of this callback may have committed meanwhile.
    existing = Payment.objects.filter(provider=notice.provider, provider_transaction_id=notice.transaction_id).first()
    if existing is not None:
        return existing
    if notice.amount != order.total:
        raise BusinessRuleViolation("支付金额与订单金额不一致 (paid amount differs from the order total)",
                                    code="amount_mismatch",
                                    detail={"expected": str(order.total), "received": str(notice.amount)})
    payment = Payment.objects.create(order=order, provider=notice.provider,
                                     provider_transaction_id=notice.transaction_id, amount=notice.amount,
                                     payload={"order_number": notice.order_number, "amount": str(notice.amount)})
    if order.status != S.PENDING_PAYMENT:
        # Paid after it was cancelled (or a second payment): the money goes straight back.
        Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.REFUNDED)
        reference = f"late:{payment.pk}"
        Refund.objects.create(order=order, payment=payment, amount=payment.amount, status=Refund.Status.SUCCEEDED,
                              reason="late_or_duplicate_payment", reference=reference,
                              provider_refund_id=provider_get(payment.provider).refund(
                                  transaction_id=payment.provider_transaction_id, amount=payment.amount,
                                  reference=reference))
        record_event(kind="payment_refunded_late", actor=order.buyer, target=order,
                     payload={"transaction_id": notice.transaction_id, "amount": notice.amount,
                              "reason": "late_or_duplicate_payment"})
        return payment
    now = timezone.now()
    order_transition(order=order, axis="payment_status", to=P.PAID, reason=notice.transaction_id, paid_at=now)
    for line in order.lines.order_by("sku_id"):
        supply_services.stock_consume(sku_id=line.sku_id, quantity=line.quantity, reference=order.number)
    if order.coupon_id:
        UserCoupon.objects.filter(pk=order.coupon_id, status=UserCoupon.Status.LOCKED).update(
            status=UserCoupon.Status.USED, used_at=now, updated_at=now)
    from mall.services import group_buys

    if order.kind == Order.Kind.GROUP_BUY:
        order_transition(order=order, axis="status", to=S.GROUPING, reason="paid, waiting for the team")
        group_buys.member_paid(order=order)
    else:
        order_transition(order=order, axis="status", to=S.PAID, reason="paid")
    record_event(kind="order_paid", actor=order.buyer, target=order,
                 payload={"total": order.total, "store_id": order.store_id, "kind": order.kind,
                          "lines": [[line.sku_code, line.quantity] for line in order.lines.all()]})
    return payment


def payment_checkout(*, order: Order, provider: str = "simulated") -> dict:
    """What the client needs to pay the order: where to pay and how much."""
    if order.status != S.PENDING_PAYMENT:
        raise IllegalTransition("订单不是待支付状态 (the order is not awaiting payment)", code="order_not_payable",
                                detail={"status": order.status})
    if order.pay_deadline <= timezone.now():
        raise IllegalTransition("订单已超时 (the payment window has closed)", code="order_pay_expired")
    return provider_get(provider).checkout(order=order)


def simulated_gateway_pay(*, order: Order) -> Payment:
    """The simulated gateway takes the money and notifies us exactly as a real one would: a signed callback."""
    payment_checkout(order=order, provider="simulated")
    gateway = provider_get("simulated")
    body, signature = gateway.paid_notice(order=order)
    return payment_callback(provider=gateway.name, body=body, signature=signature)


def refund_issue(*, order: Order, amount: Decimal, reason: str, reference: str) -> Refund:
    """Send money back through the provider that took it. Idempotent on `reference`. Joins the caller's
    transaction: the simulated provider answers at once; a real one would be called after commit by a task."""
    existing = Refund.objects.filter(reference=reference).first()
    if existing is not None:
        return existing
    payment = order.payments.filter(status=Payment.Status.SUCCEEDED).first()
    if payment is None:
        raise BusinessRuleViolation("订单没有可退的支付 (nothing was paid on this order)", code="nothing_to_refund")
    amount = to_money(amount)
    already = sum((r.amount for r in order.refunds.filter(payment=payment)), Decimal("0"))
    if amount <= 0 or already + amount > payment.amount:
        raise BusinessRuleViolation("退款金额超过实付金额 (refund exceeds what was paid)", code="refund_exceeds_paid",
                                    detail={"paid": str(payment.amount), "refunded": str(already)})
    try:
        provider = provider_get(payment.provider)
    except NotFound as error:
        raise BusinessRuleViolation("该支付渠道不支持线上退款 (this payment cannot be refunded online)",
                                    code="refund_not_supported") from error
    refund = Refund.objects.create(order=order, payment=payment, amount=amount, reason=reason[:200],
                                   reference=reference, status=Refund.Status.SUCCEEDED,
                                   provider_refund_id=provider.refund(transaction_id=payment.provider_transaction_id,
                                                                      amount=amount, reference=reference))
    record_event(kind="refund_succeeded", actor=order.buyer, target=order,
                 payload={"amount": amount, "refund_id": refund.pk})
    return refund
