"""Live writes to the ledger: spending (a hold, debited by the engine in event order), releasing a hold, recording
an expiry tick.

Balances are the engine's (engagement/services/engine.py); a spend cannot wait for it, so it is a **hold**: under
the account's row lock, a guarded UPDATE adds the amount to `held` only while

    balance - held - (what is left in lots due to expire within SPEND_EXPIRY_MARGIN) >= amount

and the same transaction records `ledger_spent`. The engine debits it when it reads that event and takes it out
of `held`. So concurrent spends can never take more than the account holds, and the debit lands in the ledger at
its place in the event order, where a replay will put it again. The margin keeps a lot that expires between the
check and the event's timestamp out of what may be spent.

Lock order: the account row is the last row lock a live flow takes (after the order's stock rows at checkout,
after the reward row at a redemption); the engine takes no other row lock while it holds accounts, so nothing
deadlocks.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import BigIntegerField, F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, ValidationFailed
from core.events import record_event
from engagement.models import Currency, LedgerAccount, LedgerLot, SpendHold

SPEND_EXPIRY_MARGIN = timedelta(minutes=1)
MAX_AMOUNT = 10**12


class InsufficientBalance(BusinessRuleViolation):
    code = "balance_insufficient"
    message = _("not enough to spend")


@dataclass(frozen=True)
class Available:
    balance: int
    held: int
    due: int  # in lots past (or within a minute of) their expiry, not yet expired by the engine
    debt: int

    @property
    def spendable(self) -> int:
        return max(self.balance - self.held - self.due, 0)


def _with_due(accounts, *, at: datetime):
    """Accounts annotated with `due`: what is left in their lots that expire by `at` (the engine expires them when
    it gets there), read in the same statement."""
    due = (LedgerLot.objects.filter(account=OuterRef("pk"), remaining__gt=0, expires_at__lte=at)
           .values("account").annotate(total=Sum("remaining")).values("total"))
    return accounts.annotate(due=Coalesce(Subquery(due), 0, output_field=BigIntegerField()))


def available_of(*, user_id: int, currency: str, at: datetime | None = None) -> Available:
    """What the user may spend now in a currency (no lock: for showing and for a checkout preview)."""
    account = _with_due(LedgerAccount.objects.filter(user_id=user_id, currency=currency),
                        at=(at or timezone.now()) + SPEND_EXPIRY_MARGIN).first()
    if account is None:
        return Available(0, 0, 0, 0)
    return Available(account.balance, account.held, account.due, account.debt)


def _amount_check(amount) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= MAX_AMOUNT:
        raise ValidationFailed(_("the amount must be a whole number from 1"), code="amount_invalid")
    return amount


def spend_hold(*, user_id: int, currency: str, amount: int, reference: str, reason: str,
               base: Decimal | None = None, at: datetime | None = None) -> SpendHold:
    """Put `amount` of the user's `currency` on hold for `reference` (an order, a redemption), in the caller's
    transaction, and record `ledger_spent`. `base` is what the spend is worth in money (an order's goods payable):
    refunds of that much give all of it back. `at` places the spend in time (history and tests); default now.
    Refuses with `balance_insufficient` (422) and changes nothing when the account cannot cover it."""
    amount = _amount_check(amount)
    if currency not in (Currency.POINTS, Currency.ENERGY):
        raise ValidationFailed(_("this currency cannot be spent"), code="currency_not_spendable")
    now = at or timezone.now()
    # No savepoint of its own inside the caller's transaction (a checkout's): a refusal rolls the caller back.
    with transaction.atomic(savepoint=False):
        account = _with_due(LedgerAccount.objects.select_for_update(of=("self",)).filter(
            user_id=user_id, currency=currency), at=now + SPEND_EXPIRY_MARGIN).first()
        if account is None:
            raise InsufficientBalance(detail={"currency": currency, "available": 0, "asked": amount})
        if not LedgerAccount.objects.filter(pk=account.pk, balance__gte=F("held") + amount + account.due).update(
                held=F("held") + amount, updated_at=timezone.now()):
            raise InsufficientBalance(detail={"currency": currency, "asked": amount,
                                              "available": max(account.balance - account.held - account.due, 0)})
        # `reference` names one order or redemption: unique, so a second hold for it is a programming error.
        hold = SpendHold.objects.create(user_id=user_id, currency=currency, amount=amount, reference=reference[:64],
                                        reason=reason[:32])
        record_event(kind="ledger_spent", actor_id=user_id, target=hold, occurred_at=at,
                     payload={"currency": currency, "amount": amount, "reference": hold.reference,
                              "reason": hold.reason, "base": base})
    return hold


def spend_release(*, currency: str, reference: str) -> bool:
    """Give a hold back (its order was cancelled unpaid), in the caller's transaction: out of `held` if the engine
    has not debited it yet, and `ledger_spend_released` tells the engine to give back what it debited. True if
    there was something to release."""
    with transaction.atomic(savepoint=False):
        hold = SpendHold.objects.select_for_update().filter(currency=currency, reference=reference).first()
        if hold is None or hold.status == SpendHold.Status.RELEASED:
            return False
        SpendHold.objects.filter(pk=hold.pk, status=hold.status).update(status=SpendHold.Status.RELEASED,
                                                                         updated_at=timezone.now())
        if hold.status == SpendHold.Status.HELD:
            LedgerAccount.objects.filter(user_id=hold.user_id, currency=currency).update(
                held=F("held") - hold.amount, updated_at=timezone.now())
        record_event(kind="ledger_spend_released", actor_id=hold.user_id, target=hold,
                     payload={"currency": currency, "amount": hold.amount, "reference": hold.reference})
    return True


def expiry_tick_record(*, until: datetime | None = None) -> None:
    """The expiry job: record that lots due by `until` (default now) expire; the engine expires them at this
    point of the event order, where a replay will expire them again."""
    record_event(kind="ledger_expiry_tick", payload={"until": (until or timezone.now()).isoformat()},
                 occurred_at=until)
