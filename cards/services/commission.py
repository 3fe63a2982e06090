"""Distribution rebates (分销返利): the commission ledger, from payment to withdrawal.

- `order_paid` (a transactional handler, cards/events.py): the buyer's binding in the store gives at most two
  beneficiaries; each gets an earning of rate x paid goods amount (the order total less postage), rates snapshotted
  on the entry, `pending`.
- `order_delivered`: the order's earnings are `frozen`.
- The settle sweep: once the after-sale window after delivery has closed with no after-sale open, they become
  `withdrawable` (paying off any debt first).
- `refund_succeeded`: a negative `reversal` entry takes back the refunded share, whatever state the earning is in;
  taken from a withdrawable balance that was already spent, the shortfall becomes `debt`, which later earnings pay
  off. Nothing is ever lost.
- Withdrawals: a minimum amount and a fee; the balance moves by guarded updates, so concurrent requests can never
  take it below zero (and a CHECK constraint would refuse it anyway).

Lock order: commission accounts in ascending user id, then their entries. Every balance change is an UPDATE with
F() on a locked account row.
"""
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.models import CommissionAccount, CommissionEntry, DistributionBinding, DistributionPlan, Withdrawal
from core.errors import BusinessRuleViolation, NotFound, ValidationFailed
from core.events import record_event
from core.money import ZERO, to_money
from mall import selectors as mall_selectors
from mall.models import Order, Refund

S = CommissionEntry.Status
MAX_LEVELS = 2


def distribution_plan_validate(*, level1_rate: Decimal, level2_rate: Decimal, levels: int = 2) -> None:
    """Two levels at most (WeChat platforms forbid deeper schemes), rates between 0 and 50 %."""
    if levels > MAX_LEVELS:
        raise ValidationFailed(_("at most two distribution levels are allowed"), code="too_many_levels",
                               detail={"max_levels": MAX_LEVELS})
    for rate in (level1_rate, level2_rate):
        if not ZERO <= rate <= Decimal("0.5"):
            raise ValidationFailed(_("a commission rate is between 0 and 0.5"), code="rate_invalid")


def distribution_plan_save(*, store_id: int, level1_rate: Decimal, level2_rate: Decimal = ZERO, levels: int = 2,
                           enabled: bool = True) -> DistributionPlan:
    distribution_plan_validate(level1_rate=level1_rate, level2_rate=level2_rate, levels=levels)
    plan, _created = DistributionPlan.objects.update_or_create(
        store_id=store_id, defaults={"level1_rate": level1_rate, "level2_rate": level2_rate if levels == 2 else 0,
                                     "enabled": enabled})
    return plan


def _accounts_for_update(user_ids: list[int]) -> dict[int, CommissionAccount]:
    """Get or create, then lock, the accounts of these users, in ascending user id (the lock order)."""
    ids = sorted(set(user_ids))
    for user_id in ids:
        CommissionAccount.objects.get_or_create(user_id=user_id)
    return {account.user_id: account for account in
            CommissionAccount.objects.filter(user_id__in=ids).order_by("user_id").select_for_update()}


def _move(account: CommissionAccount, **deltas: Decimal) -> None:
    CommissionAccount.objects.filter(pk=account.pk).update(
        **{name: F(name) + delta for name, delta in deltas.items()}, updated_at=timezone.now())


def _rate_amount(base: Decimal, rate: Decimal) -> Decimal:
    return (base * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def commission_on_order_paid(*, order_id: int) -> list[CommissionEntry]:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return []
    plan = DistributionPlan.objects.filter(store_id=order.store_id, enabled=True).first()
    binding = DistributionBinding.objects.filter(store_id=order.store_id, buyer_id=order.buyer_id).first()
    if plan is None or binding is None:
        return []
    if order.kind != Order.Kind.NORMAL and not mall_selectors.order_campaign_earns_commission(order=order):
        return []  # group-buy and bargain prices earn nothing unless their campaign says so
    base = to_money(order.total - order.shipping_fee)
    levels = [(1, binding.level1_id, plan.level1_rate)]
    if binding.level2_id and plan.level2_rate > 0:
        levels.append((2, binding.level2_id, plan.level2_rate))
    accounts = _accounts_for_update([user_id for _level, user_id, _rate in levels])
    entries = []
    for level, user_id, rate in levels:
        amount = _rate_amount(base, rate)
        if amount <= 0:
            continue
        account = accounts[user_id]
        entry = CommissionEntry.objects.create(account=account, order=order, store_id=order.store_id, level=level,
                                               base_amount=base, rate=rate, amount=amount, reference="paid")
        _move(account, pending=amount)
        record_event(kind="commission_earned", target=order,
                     payload={"order_id": order.pk, "level": level, "amount": amount, "beneficiary_id": user_id})
        entries.append(entry)
    return entries


def commission_freeze(*, order_id: int) -> int:
    """The order was delivered: its pending earnings wait out the after-sale window, frozen."""
    entries = list(CommissionEntry.objects.filter(order_id=order_id, kind=CommissionEntry.Kind.EARNING,
                                                  status=S.PENDING).select_related("account"))
    if not entries:
        return 0
    _accounts_for_update([entry.account.user_id for entry in entries])
    for entry in entries:
        net = entry.amount + _reversed_of(entry)
        CommissionEntry.objects.filter(pk=entry.pk).update(status=S.FROZEN)
        _move(entry.account, pending=-net, frozen=net)
    return len(entries)


def _reversed_of(entry: CommissionEntry) -> Decimal:
    """What reversals have already taken back of an earning (zero or negative)."""
    return entry.reversals.aggregate(total=Sum("amount"))["total"] or ZERO


def commissions_settle_due(*, limit: int = 500) -> int:
    """Sweep: frozen earnings of orders delivered more than AFTER_SALE_WINDOW ago, with no after-sale open,
    become withdrawable (paying off debt first). Idempotent."""
    cutoff = timezone.now() - settings.AFTER_SALE_WINDOW
    order_ids = list(CommissionEntry.objects.filter(status=S.FROZEN, kind=CommissionEntry.Kind.EARNING)
                     .values_list("order_id", flat=True).distinct()[:limit])
    due = mall_selectors.orders_past_after_sale_window(order_ids=order_ids, delivered_before=cutoff)
    settled = 0
    for order_id in due:
        with transaction.atomic():
            entries = list(CommissionEntry.objects.filter(order_id=order_id, status=S.FROZEN,
                                                          kind=CommissionEntry.Kind.EARNING)
                           .select_related("account"))
            accounts = _accounts_for_update([entry.account.user_id for entry in entries])
            for entry in entries:
                net = entry.amount + _reversed_of(entry)
                account = accounts[entry.account.user_id]
                account.refresh_from_db(fields=["debt"])
                paid_off = min(account.debt, net)
                CommissionEntry.objects.filter(pk=entry.pk, status=S.FROZEN).update(
                    status=S.WITHDRAWABLE, settled_at=timezone.now())
                _move(account, frozen=-net, withdrawable=net - paid_off, debt=-paid_off)
                settled += 1
    return settled


def commission_reverse(*, order_id: int, refund_id: int) -> list[CommissionEntry]:
    """A refund succeeded: take back the refunded share of each earning of the order (a negative entry)."""
    order = Order.objects.filter(pk=order_id).first()
    earnings = list(CommissionEntry.objects.filter(order_id=order_id, kind=CommissionEntry.Kind.EARNING)
                    .select_related("account"))
    if order is None or not earnings:
        return []
    goods = order.total - order.shipping_fee
    refunded = Refund.objects.filter(order_id=order_id, status=Refund.Status.SUCCEEDED).aggregate(
        total=Sum("amount"))["total"] or ZERO
    share = min(refunded, goods) / goods if goods > 0 else Decimal(1)
    accounts = _accounts_for_update([entry.account.user_id for entry in earnings])
    reversals = []
    for earning in earnings:
        already = _reversed_of(earning)
        target = -_rate_amount(earning.amount, share) if share < 1 else -earning.amount
        take = target - already  # negative: what this refund takes back
        if take >= 0:
            continue
        account = accounts[earning.account.user_id]
        try:
            with transaction.atomic():
                reversal = CommissionEntry.objects.create(
                    account=account, order=order, store_id=earning.store_id, level=earning.level,
                    kind=CommissionEntry.Kind.REVERSAL, status=S.REVERSED, base_amount=earning.base_amount,
                    rate=earning.rate, amount=take, reference=f"refund:{refund_id}", reverses=earning)
        except IntegrityError:
            continue  # this refund was already booked against this earning
        _take_back(account, earning_status=earning.status, amount=-take)
        if target == -earning.amount:
            CommissionEntry.objects.filter(pk=earning.pk).update(status=S.REVERSED)
        record_event(kind="commission_reversed", target=order,
                     payload={"order_id": order.pk, "level": earning.level, "amount": take,
                              "beneficiary_id": account.user_id})
        reversals.append(reversal)
    return reversals


def _take_back(account: CommissionAccount, *, earning_status: str, amount: Decimal) -> None:
    if earning_status == S.PENDING:
        _move(account, pending=-amount)
    elif earning_status == S.FROZEN:
        _move(account, frozen=-amount)
    elif earning_status == S.WITHDRAWABLE:
        account.refresh_from_db(fields=["withdrawable"])
        from_balance = min(account.withdrawable, amount)
        _move(account, withdrawable=-from_balance, debt=amount - from_balance)


# --- withdrawals ------------------------------------------------------------------------------------------------
def withdrawal_fee(amount: Decimal) -> Decimal:
    return max(settings.COMMISSION_WITHDRAWAL_MIN_FEE,
               (amount * settings.COMMISSION_WITHDRAWAL_FEE_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def withdrawal_request(*, user, amount: Decimal, idempotency_key: str) -> Withdrawal:
    amount = to_money(amount)
    if amount < settings.COMMISSION_WITHDRAWAL_MINIMUM:
        raise BusinessRuleViolation(_("the smallest withdrawal is %(minimum)s") % {
            "minimum": settings.COMMISSION_WITHDRAWAL_MINIMUM}, code="withdrawal_below_minimum")
    fee = withdrawal_fee(amount)
    if fee >= amount:
        raise BusinessRuleViolation(_("the fee would take the whole amount"), code="withdrawal_below_fee")
    existing = Withdrawal.objects.filter(account__user=user, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            account = _accounts_for_update([user.pk])[user.pk]
            moved = CommissionAccount.objects.filter(pk=account.pk, withdrawable__gte=amount).update(
                withdrawable=F("withdrawable") - amount, withdrawing=F("withdrawing") + amount,
                updated_at=timezone.now())
            if not moved:
                raise BusinessRuleViolation(_("not enough withdrawable commission"), code="insufficient_balance")
            withdrawal = Withdrawal.objects.create(account=account, amount=amount, fee=fee, net_amount=amount - fee,
                                                   idempotency_key=idempotency_key)
            record_event(kind="withdrawal_requested", actor=user, target=withdrawal,
                         payload={"withdrawal_id": withdrawal.pk, "amount": amount})
    except IntegrityError:
        existing = Withdrawal.objects.filter(account__user=user, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    return withdrawal


def withdrawal_decide(*, withdrawal_id: int, approve: bool, operator=None, note: str = "") -> Withdrawal:
    """An operator pays (approves) or rejects a requested withdrawal; a rejected amount goes back."""
    with transaction.atomic():
        found = Withdrawal.objects.filter(pk=withdrawal_id).values_list("account__user_id", flat=True).first()
        if found is None:
            raise NotFound(_("no such withdrawal"), code="withdrawal_not_found")
        account = _accounts_for_update([found])[found]
        withdrawal = Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
        if withdrawal.status != Withdrawal.Status.REQUESTED:
            raise BusinessRuleViolation(_("this withdrawal was already decided"), code="withdrawal_decided")
        if approve:
            _move(account, withdrawing=-withdrawal.amount, withdrawn=withdrawal.amount)
            withdrawal.status = Withdrawal.Status.APPROVED
        else:
            account.refresh_from_db(fields=["debt"])
            paid_off = min(account.debt, withdrawal.amount)
            _move(account, withdrawing=-withdrawal.amount, withdrawable=withdrawal.amount - paid_off, debt=-paid_off)
            withdrawal.status = Withdrawal.Status.REJECTED
        withdrawal.decided_by, withdrawal.decided_at, withdrawal.note = operator, timezone.now(), note[:200]
        withdrawal.save(update_fields=["status", "decided_by", "decided_at", "note", "updated_at"])
        record_event(kind="withdrawal_decided", actor=operator, target=withdrawal,
                     payload={"withdrawal_id": withdrawal.pk, "status": withdrawal.status})
    return withdrawal
