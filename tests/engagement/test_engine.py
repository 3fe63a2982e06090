"""The rules engine on real events and a real PostgreSQL: awards once per period, streaks, first order, money rules,
refunds with debt, expiry first in first out, levels, replays."""
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import services as accounts_services
from core.errors import ValidationFailed
from core.events import record_event
from engagement import registry
from engagement.models import (
    EngineUser,
    LedgerEntry,
    LedgerLot,
    LevelChange,
    Membership,
    RewardGrant,
    SpendHold,
    TaskAward,
    TaskRule,
)
from engagement.services import checkins, ledger, rules
from engagement.services.replay import balances_fingerprint, engine_replay
from engagement.tasks import ledger_expiry_tick_task
from mall.models import UserCoupon
from tests.engagement.conftest import at, balance, paid, refunded, rules_run
from tests.engagement.factories import MemberLevelFactory, TaskRuleFactory
from tests.factories import CouponTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_check_in_awards_once_a_day_with_a_weekly_streak_schedule():
    TaskRuleFactory(code="check-in", streak_rewards="5,10,15", streak_reset=TaskRule.StreakReset.WEEKLY)
    user = UserFactory()
    # 2030-01-01 is a Tuesday: Tue, Wed, Thu, (Fri missed), Sat, Sun, Mon (a new week)
    for day in (1, 2, 3, 5, 6, 7):
        checkins.check_in(user=user, at=at(day))
        checkins.check_in(user=user, at=at(day, hour=20))  # the same day again: nothing more
    rules_run()
    awards = list(TaskAward.objects.filter(user=user).order_by("created_at").values_list("period_key", "amount"))
    assert awards == [("d:2030-01-01", 5), ("d:2030-01-02", 10), ("d:2030-01-03", 15), ("d:2030-01-05", 5),
                      ("d:2030-01-06", 10), ("d:2030-01-07", 5)]
    assert balance(user)[0] == 50
    facts = EngineUser.objects.get(user_id=user.pk)
    assert (facts.streak_none, facts.streak_weekly) == (3, 1)


def test_first_order_and_points_per_yuan_then_a_partial_refund_takes_back_its_share():
    TaskRuleFactory(code="first", trigger="order_paid", condition="first_time", period="once", reward_amount=100)
    TaskRuleFactory(code="per-yuan", trigger="order_paid", period="per_subject", reward_amount=0,
                    reward_per_yuan=Decimal("1"))
    buyer = UserFactory()
    paid(buyer, 501, "80.50", at(1))
    paid(buyer, 502, "20.00", at(2))
    rules_run()
    assert balance(buyer) == (100 + 80 + 20, 0, 0)
    assert TaskAward.objects.filter(user=buyer, rule__code="first").get().order_id == 501
    refunded(501, "40.25", refund_id=1, when=at(3))  # half of order 501
    rules_run()
    # first order: round_half_up(100 x 1/2) = 50; per yuan: round_half_up(80 x 1/2) = 40
    assert balance(buyer) == (200 - 50 - 40, 0, 0)
    refunded(501, "40.25", refund_id=2, when=at(4))  # the rest
    rules_run()
    assert balance(buyer) == (20, 0, 0)
    assert list(TaskAward.objects.filter(order_id=501).values_list("amount", "reversed_amount")) == [
        (100, 100), (80, 80)]


def test_points_already_spent_become_debt_that_later_earnings_pay_off():
    TaskRuleFactory(code="per-yuan", trigger="order_paid", period="per_subject", reward_amount=0,
                    reward_per_yuan=Decimal("1"))
    TaskRuleFactory(code="check-in", reward_amount=30)
    buyer = UserFactory()
    paid(buyer, 601, "100.00", at(1))
    rules_run()
    ledger.spend_hold(user_id=buyer.pk, currency="points", amount=90, reference="redemption:1", reason="reward",
                      at=at(2))
    rules_run()
    assert balance(buyer) == (10, 0, 0)
    refunded(601, "100.00", refund_id=1, when=at(3))
    rules_run()
    assert balance(buyer) == (0, 0, 90)  # 10 taken from the lot, 90 owed
    checkins.check_in(user=buyer, at=at(4))
    rules_run()
    assert balance(buyer) == (0, 0, 60)  # the 30 earned went to the debt
    entry = LedgerEntry.objects.filter(account__user=buyer, kind="award").latest("pk")
    assert (entry.amount, entry.debt_change) == (0, -30)


def test_spending_takes_the_lot_expiring_first_and_expiry_takes_what_is_left():
    TaskRuleFactory(code="short", trigger="order_paid", period="per_subject", reward_amount=50, validity_days=5)
    TaskRuleFactory(code="long", trigger="order_paid", period="per_subject", reward_amount=50, validity_days=30)
    buyer = UserFactory()
    paid(buyer, 701, "10.00", at(1))
    rules_run()
    ledger.spend_hold(user_id=buyer.pk, currency="points", amount=30, reference="redemption:7", reason="reward",
                      at=at(2))
    ledger.expiry_tick_record(until=at(7))
    rules_run()
    lots = dict(LedgerLot.objects.filter(account__user=buyer).values_list("award__rule__code", "remaining"))
    assert lots == {"short": 0, "long": 50}  # 30 spent from the short one, its last 20 expired
    assert balance(buyer) == (50, 0, 0)
    assert LedgerEntry.objects.filter(account__user=buyer, kind="expiry").get().amount == -20


def test_a_cancelled_spend_comes_back_and_a_hold_counts_until_the_engine_debits_it():
    TaskRuleFactory(code="check-in", reward_amount=100)
    user = UserFactory()
    checkins.check_in(user=user, at=at(1))
    rules_run()
    ledger.spend_hold(user_id=user.pk, currency="points", amount=70, reference="order:9", reason="checkout",
                      base=Decimal("7.00"), at=at(1, hour=11))
    assert balance(user) == (100, 70, 0)
    with pytest.raises(ledger.InsufficientBalance):
        ledger.spend_hold(user_id=user.pk, currency="points", amount=31, reference="order:10", reason="checkout",
                          at=at(1, hour=12))
    assert ledger.spend_release(currency="points", reference="order:9")
    assert balance(user) == (100, 0, 0)
    rules_run()  # the engine debits, then gives back: the hold left `held` at its release
    assert balance(user) == (100, 0, 0)
    assert SpendHold.objects.get(reference="order:9").status == SpendHold.Status.RELEASED
    assert list(LedgerEntry.objects.filter(account__user=user).order_by("pk").values_list("kind", "amount")) == [
        ("award", 100), ("spend", -70), ("restore", 70)]


def test_levels_follow_experience_and_every_change_is_recorded():
    levels = [MemberLevelFactory(rank=1, min_experience=0), MemberLevelFactory(rank=2, min_experience=100)]
    TaskRuleFactory(code="exp", trigger="order_paid", period="per_subject", currency="experience", reward_amount=0,
                    reward_per_yuan=Decimal("1"))
    buyer = UserFactory()
    paid(buyer, 801, "60.00", at(1))
    paid(buyer, 802, "50.00", at(2))
    rules_run()
    assert Membership.objects.get(user=buyer).level == levels[1]
    refunded(802, "50.00", refund_id=1, when=at(3))
    rules_run()
    assert Membership.objects.get(user=buyer).level == levels[0]
    changes = list(LevelChange.objects.filter(user=buyer).order_by("created_at").values_list(
        "from_level__rank", "to_level__rank", "experience"))
    assert changes == [(None, 1, 60), (1, 2, 110), (2, 1, 60)]


def test_n_per_period_and_a_validity_window():
    rule = TaskRuleFactory(code="three-a-day", max_per_period=3, valid_from=at(1, 0), valid_to=at(2, 0))
    user = UserFactory()
    for hour in range(1, 6):
        checkins.check_in(user=user, at=at(1, hour))  # one check-in a day: one occurrence
    checkins.check_in(user=user, at=at(2))  # outside the window
    rules_run()
    assert list(TaskAward.objects.filter(rule=rule).values_list("period_key", flat=True)) == ["d:2030-01-01#1"]


def test_a_replay_from_scratch_gives_the_same_balances():
    TaskRuleFactory(code="check-in", reward_amount=10, validity_days=3)
    TaskRuleFactory(code="per-yuan", trigger="order_paid", period="per_subject", reward_amount=0,
                    reward_per_yuan=Decimal("2"))
    users = [UserFactory() for _ in range(3)]
    for day in range(1, 6):
        for index, user in enumerate(users):
            if (day + index) % 2:
                checkins.check_in(user=user, at=at(day))
    paid(users[0], 901, "33.30", at(2))
    rules_run()
    ledger.spend_hold(user_id=users[0].pk, currency="points", amount=50, reference="order:1", reason="checkout",
                      base=Decimal("20.00"), at=at(3))
    refunded(901, "10.00", refund_id=3, when=at(4))
    ledger.expiry_tick_record(until=at(9))
    rules_run()
    before = balances_fingerprint()
    result = engine_replay()
    assert result["before"] == before == result["after"] == balances_fingerprint()
    assert result["events"] >= 10
    assert before["balance"] > 0


def test_completing_the_profile_and_registering_award_once():
    TaskRuleFactory(code="welcome", trigger="registered", period="once", reward_amount=100)
    TaskRuleFactory(code="profile", trigger="profile_completed", period="once", reward_amount=50)
    user = UserFactory(nickname="")
    record_event(kind="user_registered", actor=user, target=user)
    accounts_services.user_update_profile(user=user, nickname="小明")
    rules_run()
    assert balance(user) == (100, 0, 0)  # a nickname alone is not a complete profile
    accounts_services.user_update_profile(user=user, avatar_url="https://img.example.com/a.png")
    accounts_services.user_update_profile(user=user, nickname="小明明", avatar_url="https://img.example.com/b.png")
    rules_run()
    assert balance(user) == (150, 0, 0)
    assert EngineUser.objects.get(user_id=user.pk).profile_complete


def test_a_coupon_reward_is_issued_once_per_award_and_never_again_by_a_replay():
    template = CouponTemplateFactory(total_quantity=1)
    TaskRuleFactory(code="coupon", trigger="order_paid", period="per_subject", reward_amount=0,
                    coupon_template=template)
    first, second = UserFactory(), UserFactory()
    paid(first, 1101, "10.00", at(1))
    paid(second, 1102, "10.00", at(1))
    rules_run()
    grants = {grant.user_id: grant for grant in RewardGrant.objects.all()}
    assert grants[first.pk].user_coupon.user == first
    assert (grants[second.pk].user_coupon, grants[second.pk].note) == (None, "coupon_sold_out")
    engine_replay()
    assert UserCoupon.objects.filter(template=template).count() == 1
    assert RewardGrant.objects.count() == 2


def test_audiences_new_users_and_levels():
    MemberLevelFactory(rank=1, min_experience=0)
    MemberLevelFactory(rank=2, min_experience=100)
    TaskRuleFactory(code="exp", trigger="order_paid", period="per_subject", currency="experience", reward_amount=0,
                    reward_per_yuan=Decimal(1))
    TaskRuleFactory(code="newcomers", audience="new_users", audience_value="7", reward_amount=20)
    TaskRuleFactory(code="vip", audience="level_at_least", audience_value="2", reward_amount=30)
    newcomer, veteran = UserFactory(), UserFactory()
    record_event(kind="user_registered", actor=newcomer, target=newcomer, occurred_at=at(1))
    record_event(kind="user_registered", actor=veteran, target=veteran, occurred_at=at(1))
    paid(veteran, 1201, "150.00", at(2))
    checkins.check_in(user=newcomer, at=at(3))
    checkins.check_in(user=veteran, at=at(3))
    checkins.check_in(user=newcomer, at=at(20))  # no longer new
    rules_run()
    assert balance(newcomer) == (20, 0, 0)
    assert balance(veteran) == (20 + 30, 0, 0)


def test_a_segment_audience_is_unavailable_until_the_rfm_part_provides_it():
    rule = TaskRuleFactory(code="champions", audience="segment", audience_value="champions", is_active=False)
    with pytest.raises(ValidationFailed) as refused:
        rules.task_rule_switch(rule_id=rule.pk, active=True)
    assert refused.value.code == "rule_audience_unavailable"
    registry.segment_resolver_register(lambda user_id, segment, at: segment == "champions")
    try:
        assert rules.task_rule_switch(rule_id=rule.pk, active=True).is_active
        user = UserFactory()
        checkins.check_in(user=user, at=at(1))
        rules_run()
        assert balance(user) == (10, 0, 0)
    finally:
        registry.segment_resolver_register(None)


def test_the_expiry_job_and_the_replay_command():
    TaskRuleFactory(code="short", reward_amount=10, validity_days=1)
    user = UserFactory()
    checkins.check_in(user=user, at=timezone.now() - timedelta(days=3))
    rules_run()
    assert balance(user) == (10, 0, 0)  # due, not expired yet: nothing touched the account since
    ledger_expiry_tick_task()
    rules_run()
    assert balance(user) == (0, 0, 0)
    output = StringIO()
    call_command("engagement_replay", stdout=output)
    assert "same balances: yes" in output.getvalue()
    assert balance(user) == (0, 0, 0)
