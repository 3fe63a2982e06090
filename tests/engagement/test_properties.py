"""Any interleaving of events, engine runs (in batches of any size), replays from scratch, spends, cancellations,
refunds and expiry ticks gives the balances, debts and levels of a pure reference model (tests/engagement/
reference.py). Real events, the real consumer, real PostgreSQL."""
import itertools
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.events import rules_consumer_register
from engagement.models import Membership, TaskRule
from engagement.services import checkins, ledger
from engagement.services.replay import engine_replay
from tests.engagement import reference
from tests.engagement.conftest import at, balance, paid, refunded, rules_run
from tests.engagement.factories import MemberLevelFactory, TaskRuleFactory
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

USERS = 2
ids = itertools.count(10_000_000)

money = st.integers(min_value=1, max_value=30_000).map(lambda cents: Decimal(cents) / 100)
user = st.integers(min_value=0, max_value=USERS - 1)
operation = st.one_of(
    st.tuples(st.just("check_in"), user),
    st.tuples(st.just("pay"), user, money, st.sampled_from([Decimal(0), Decimal("8.00")])),
    st.tuples(st.just("checkout"), user, money, st.integers(min_value=1, max_value=150)),
    st.tuples(st.just("cancel"), user, st.integers(min_value=1, max_value=150)),
    st.tuples(st.just("redeem"), user, st.integers(min_value=1, max_value=120)),
    st.tuples(st.just("refund"), st.integers(min_value=0, max_value=20), st.sampled_from(["0.25", "0.5", "1"])),
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=3)),
    st.tuples(st.just("tick")),
    st.tuples(st.just("run")),
    st.tuples(st.just("replay")),
)


@pytest.fixture
def property_rules(db):
    """The rules of tests/engagement/reference.py, as rows."""
    TaskRuleFactory(code="p-check-in", streak_rewards=",".join(map(str, reference.STREAK)),
                    streak_reset=TaskRule.StreakReset.WEEKLY, validity_days=reference.CHECK_IN_DAYS)
    TaskRuleFactory(code="p-first-order", trigger="order_paid", condition="first_time", period="once",
                    reward_amount=reference.FIRST_ORDER, validity_days=reference.ORDER_DAYS)
    TaskRuleFactory(code="p-points", trigger="order_paid", period="per_subject", reward_amount=0,
                    reward_per_yuan=Decimal(1), validity_days=reference.ORDER_DAYS)
    TaskRuleFactory(code="p-experience", trigger="order_paid", period="per_subject", reward_amount=0,
                    reward_per_yuan=Decimal(1), currency="experience")
    MemberLevelFactory(rank=1, min_experience=0)
    MemberLevelFactory(rank=2, min_experience=reference.LEVEL_2)
    yield
    rules_consumer_register()


def assert_same(users, model: reference.Model, when: str) -> None:
    for index, user_row in enumerate(users):
        for currency in ("points", "experience"):
            account = model.accounts.get((index, currency), reference.Account())
            assert balance(user_row, currency) == (account.balance, 0, account.debt), (when, index, currency)
        membership = Membership.objects.filter(user=user_row).select_related("level").first()
        rank = membership.level.rank if membership and membership.level else None
        assert rank == model.level(index), (when, index)


@settings(max_examples=40, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(operations=st.lists(operation, min_size=1, max_size=30), batch_size=st.integers(min_value=1, max_value=12))
def test_balances_equal_the_reference_model_whatever_the_interleaving(property_rules, operations, batch_size):
    rules_consumer_register(batch_size=batch_size)
    users = [UserFactory() for _ in range(USERS)]
    model = reference.Model()
    now = at(1)
    orders: list[tuple[int, Decimal]] = []  # (order id, total) of paid orders, in the order they were paid
    for step in operations:
        name = step[0]
        if name == "check_in":
            _row, created = checkins.check_in(user=users[step[1]], at=now)
            assert created == model.check_in(step[1], now, timezone.localdate(now))
        elif name == "pay":
            _name, who, goods, shipping = step
            order_id, total = next(ids), goods + shipping
            paid(users[who], order_id, str(total), now)
            model.pay(who, order_id, total, now)
            orders.append((order_id, total))
        elif name in ("checkout", "cancel", "redeem"):
            who, points = step[1], step[-1]
            rules_run()  # what may be spent is what the engine has applied: bring it up to date first
            order_id = next(ids)
            goods = step[2] if name == "checkout" else Decimal("10.00")
            reference_ = f"redemption:{order_id}" if name == "redeem" else f"order:{order_id}"
            allowed = model.available(who, "points", now + ledger.SPEND_EXPIRY_MARGIN) >= points
            try:
                ledger.spend_hold(user_id=users[who].pk, currency="points", amount=points, reference=reference_,
                                  reason=name, base=None if name == "redeem" else goods, at=now)
            except ledger.InsufficientBalance:
                assert not allowed, step
            else:
                assert allowed, step
                model.spend(who, points, reference_, None if name == "redeem" else goods, now)
                if name == "cancel":
                    ledger.spend_release(currency="points", reference=reference_)
                    model.release(reference_, now)
            if name == "checkout":
                paid(users[who], order_id, str(goods), now)
                model.pay(who, order_id, goods, now)
                orders.append((order_id, goods))
        elif name == "refund":
            if not orders:
                continue
            order_id, total = orders[step[1] % len(orders)]
            left = total - model.orders[order_id].refunded
            amount = min(left, (total * Decimal(step[2])).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
            if amount <= 0:
                continue
            refunded(order_id, str(amount), refund_id=next(ids), when=now)
            model.refund(order_id, amount, now)
        elif name == "advance":
            now += timedelta(days=step[1])
        elif name == "tick":
            ledger.expiry_tick_record(until=now)
            model.tick(now)
        elif name == "run":
            rules_run()
        elif name == "replay":
            engine_replay()
            assert_same(users, model, "after a replay")
    rules_run()
    assert_same(users, model, "at the end")
    engine_replay()
    assert_same(users, model, "after the final replay")
