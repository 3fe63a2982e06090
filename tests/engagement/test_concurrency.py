"""Races on real PostgreSQL with real threads (tests/helpers.race): check-ins, spends, redemptions, checkouts."""
from decimal import Decimal

import pytest

from core.errors import BusinessRuleViolation
from core.models import BehaviourEvent
from engagement.models import CheckIn, Redemption, Reward, SpendHold, TaskAward
from engagement.services import checkins, ledger, rewards
from mall.models import Order
from mall.services import orders
from supply.models import Stock
from tests.engagement.conftest import at, balance, rules_run
from tests.engagement.factories import RewardFactory, TaskRuleFactory
from tests.factories import (
    AddressFactory,
    ListingFactory,
    ProductFactory,
    ShippingRateFactory,
    SKUFactory,
    UserFactory,
)
from tests.helpers import race

pytestmark = pytest.mark.django_db(transaction=True)


def points_for(users, amount: int) -> None:
    """Give each user `amount` points the way the engine does: a check-in rule worth that much."""
    TaskRuleFactory(code="gift", reward_amount=amount)
    for user in users:
        checkins.check_in(user=user, at=at(1))
    rules_run()
    assert {balance(user) for user in users} == {(amount, 0, 0)}


def test_twenty_parallel_check_ins_of_one_user_give_one_check_in_and_one_award():
    TaskRuleFactory(code="check-in", reward_amount=10)
    user = UserFactory()
    results, errors = race(20, lambda index: checkins.check_in(user=user))
    assert errors == []
    assert sorted(created for _row, created in results) == [False] * 19 + [True]
    assert CheckIn.objects.filter(user=user).count() == 1
    assert BehaviourEvent.objects.filter(kind="checked_in", actor_id=user.pk).count() == 1
    rules_run()
    assert TaskAward.objects.filter(user=user).count() == 1
    assert balance(user) == (10, 0, 0)


def test_ten_parallel_spends_of_a_hundred_points_never_take_more_than_there_is():
    user = UserFactory()
    points_for([user], 100)

    def spend(index: int):
        return ledger.spend_hold(user_id=user.pk, currency="points", amount=30, reference=f"redemption:{index}",
                                 reason="reward")

    results, errors = race(10, spend)
    assert len(results) == 3  # 3 x 30 <= 100 < 4 x 30
    assert len(errors) == 7 and all(isinstance(error, ledger.InsufficientBalance) for error in errors)
    assert balance(user) == (100, 90, 0)
    assert SpendHold.objects.filter(user=user).count() == 3
    rules_run()
    assert balance(user) == (10, 0, 0)


def test_parallel_redemptions_never_oversell_a_reward():
    reward = RewardFactory(stock=3, cost=50)
    shoppers = [UserFactory() for _ in range(8)]
    points_for(shoppers, 100)

    def redeem(index: int):
        return rewards.reward_redeem(user=shoppers[index], reward_id=reward.pk, idempotency_key=f"redeem-{index:04d}")

    results, errors = race(8, redeem)
    assert len(results) == 3
    assert len(errors) == 5 and {error.code for error in errors} == {"reward_out_of_stock"}
    assert Reward.objects.get(pk=reward.pk).stock == 0
    assert Redemption.objects.count() == 3
    rules_run()
    assert sorted(balance(shopper)[0] for shopper in shoppers) == [50] * 3 + [100] * 5


def test_one_shopper_racing_for_a_reward_with_a_limit_of_one_gets_one():
    reward = RewardFactory(stock=10, cost=10, per_user_limit=1)
    user = UserFactory()
    points_for([user], 100)
    results, errors = race(6, lambda index: rewards.reward_redeem(user=user, reward_id=reward.pk,
                                                                   idempotency_key=f"mine-{index:04d}"))
    assert len(results) == 1
    assert {error.code for error in errors} == {"reward_limit_reached"}
    assert Reward.objects.get(pk=reward.pk).stock == 9
    assert balance(user) == (100, 10, 0)


def test_parallel_checkouts_spending_the_same_points_place_only_what_the_points_cover():
    supplier_rate = ShippingRateFactory()
    listing = ListingFactory(price=Decimal("100.00"), sku=SKUFactory(product=ProductFactory(
        supplier=supplier_rate.template.supplier, shipping_template=supplier_rate.template)))
    buyer = UserFactory()
    address = AddressFactory(user=buyer)
    points_for([buyer], 10_000)

    def submit(index: int):
        return orders.order_submit(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": 1}],
                                   address_id=address.pk, idempotency_key=f"points-race-{index:04d}",
                                   adjustments={"points": 4_000})

    results, errors = race(5, submit)
    assert len(results) == 2  # 2 x 4,000 <= 10,000 < 3 x 4,000
    assert len(errors) == 3 and all(isinstance(error, BusinessRuleViolation) and error.code == "points_insufficient"
                                    for error in errors)
    assert Order.objects.filter(buyer=buyer).count() == 2
    assert Stock.objects.get(sku=listing.sku).reserved == 2  # the refused orders reserved nothing
    assert balance(buyer) == (10_000, 8_000, 0)
