"""A pure reference model of the ledger and of the property test's rules: no database, no Django, written from the
rules as the README states them, not from the engine's code.

Rules modelled (the property test creates the same rows):
- check-in: once a day, points by the day of a streak that starts again every Monday: 5, 10, 20, 20, ...;
  valid CHECK_IN_DAYS days;
- first order: 50 points on a user's first paid order, valid ORDER_DAYS days;
- points per yuan: floor(total) points per paid order, valid ORDER_DAYS days;
- experience per yuan: floor(total) experience per paid order, never expires; level 2 from LEVEL_2 experience.
Ledger: credits pay debt first, then make a lot; every change to an account first expires its lots due by then;
spends take lots by expiry (oldest first on a tie), the shortfall is debt; a refund takes back the refunded share of
each award of the order (round half up; all once refunded in full) from that award's lot, the shortfall is debt,
and gives back floor(points x refunded / goods) of the order's spend (all once the goods are refunded) as a lot
expiring with the latest lot the spend took (or after the currency's validity when it took none); an expiry tick
expires every account's due lots.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

CHECK_IN_DAYS = 3
ORDER_DAYS = 4
POINTS_DEFAULT_DAYS = 365
STREAK = [5, 10, 20]
FIRST_ORDER = 50
LEVEL_2 = 100


@dataclass
class Lot:
    amount: int
    remaining: int
    expires_at: datetime | None
    seq: int


@dataclass
class Account:
    balance: int = 0
    debt: int = 0
    lots: list[Lot] = field(default_factory=list)


@dataclass
class Award:
    user: int
    currency: str
    amount: int
    lot: Lot | None
    reversed: int = 0


@dataclass
class Spend:
    user: int
    amount: int
    base: Decimal | None
    latest_expiry: datetime | None
    refunded: Decimal = Decimal(0)
    returned: int = 0


@dataclass
class Order:
    user: int
    total: Decimal
    refunded: Decimal = Decimal(0)
    awards: list[Award] = field(default_factory=list)


class Model:
    def __init__(self):
        self.accounts: dict[tuple[int, str], Account] = {}
        self.orders: dict[int, Order] = {}
        self.spends: dict[str, Spend] = {}
        self.check_ins: dict[int, tuple[date, int]] = {}
        self.orders_paid: dict[int, int] = {}
        self.seq = 0

    def account(self, user: int, currency: str) -> Account:
        return self.accounts.setdefault((user, currency), Account())

    # --- the ledger ---
    def expire(self, account: Account, at: datetime) -> None:
        for lot in account.lots:
            if lot.remaining and lot.expires_at is not None and lot.expires_at <= at:
                account.balance -= lot.remaining
                lot.remaining = 0

    def credit(self, user: int, currency: str, amount: int, at: datetime, expires_at: datetime | None) -> Lot | None:
        account = self.account(user, currency)
        self.expire(account, at)
        to_debt = min(account.debt, amount)
        account.debt -= to_debt
        if amount == to_debt:
            return None
        self.seq += 1
        lot = Lot(amount - to_debt, amount - to_debt, expires_at, self.seq)
        account.lots.append(lot)
        account.balance += lot.amount
        return lot

    def available(self, user: int, currency: str, at: datetime) -> int:
        """What may be spent at `at`: lots due by then do not count (the live check's view)."""
        account = self.account(user, currency)
        return sum(lot.remaining for lot in account.lots
                   if lot.remaining and (lot.expires_at is None or lot.expires_at > at))

    def spend(self, user: int, amount: int, reference: str, base: Decimal | None, at: datetime) -> None:
        account = self.account(user, "points")
        self.expire(account, at)
        left, latest = amount, None
        for lot in sorted(account.lots, key=lambda lot: (lot.expires_at is None, lot.expires_at or at, lot.seq)):
            take = min(lot.remaining, left)
            if take:
                lot.remaining -= take
                left -= take
                if lot.expires_at is not None and (latest is None or lot.expires_at > latest):
                    latest = lot.expires_at
        account.balance -= amount - left
        account.debt += left
        self.spends[reference] = Spend(user, amount, base, latest)

    def give_back(self, spend: Spend, amount: int, at: datetime) -> None:
        spend.returned += amount
        expires = spend.latest_expiry or at + timedelta(days=POINTS_DEFAULT_DAYS)
        self.credit(spend.user, "points", amount, at, expires)

    def release(self, reference: str, at: datetime) -> None:
        spend = self.spends[reference]
        self.give_back(spend, spend.amount - spend.returned, at)

    def tick(self, until: datetime) -> None:
        for account in self.accounts.values():
            self.expire(account, until)

    # --- the rules ---
    def check_in(self, user: int, at: datetime, day: date) -> bool:
        last, streak = self.check_ins.get(user, (None, 0))
        if last is not None and day <= last:
            return False
        follows = last == day - timedelta(days=1) and last.isocalendar()[:2] == day.isocalendar()[:2]
        streak = streak + 1 if follows else 1
        self.check_ins[user] = (day, streak)
        self.credit(user, "points", STREAK[min(streak, len(STREAK)) - 1], at, at + timedelta(days=CHECK_IN_DAYS))
        return True

    def pay(self, user: int, order_id: int, total: Decimal, at: datetime) -> None:
        order = self.orders[order_id] = Order(user, total)
        whole = int(total.to_integral_value(rounding=ROUND_FLOOR))
        expires = at + timedelta(days=ORDER_DAYS)
        if self.orders_paid.get(user, 0) == 0:
            order.awards.append(Award(user, "points", FIRST_ORDER,
                                      self.credit(user, "points", FIRST_ORDER, at, expires)))
        if whole:
            order.awards.append(Award(user, "points", whole, self.credit(user, "points", whole, at, expires)))
            order.awards.append(Award(user, "experience", whole, self.credit(user, "experience", whole, at, None)))
        self.orders_paid[user] = self.orders_paid.get(user, 0) + 1

    def refund(self, order_id: int, amount: Decimal, at: datetime) -> None:
        order = self.orders.get(order_id)
        if order is not None:
            order.refunded += amount
            for award in order.awards:
                if order.refunded >= order.total:
                    target = award.amount
                else:
                    target = int((Decimal(award.amount) * order.refunded / order.total).quantize(
                        Decimal(1), rounding=ROUND_HALF_UP))
                if target > award.reversed:
                    self.take_back(award, target - award.reversed, at)
        spend = self.spends.get(f"order:{order_id}")
        if spend is not None:
            spend.refunded += amount
            if spend.base is None or spend.refunded >= spend.base:
                target = spend.amount
            else:
                target = int((Decimal(spend.amount) * spend.refunded / spend.base).to_integral_value(
                    rounding=ROUND_FLOOR))
            if target > spend.returned:
                self.give_back(spend, target - spend.returned, at)

    def take_back(self, award: Award, amount: int, at: datetime) -> None:
        account = self.account(award.user, award.currency)
        self.expire(account, at)
        take = min(award.lot.remaining, amount) if award.lot is not None else 0
        if award.lot is not None:
            award.lot.remaining -= take
        account.balance -= take
        account.debt += amount - take
        award.reversed += amount

    def level(self, user: int) -> int | None:
        if (user, "experience") not in self.accounts:
            return None
        return 2 if self.accounts[(user, "experience")].balance >= LEVEL_2 else 1
