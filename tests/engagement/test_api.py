"""The shopper API of engagement: accounts and ledger, check-in, tasks and the onboarding checklist, levels, the
rewards catalogue and redeeming; its refusals are 4xx with stable codes and change nothing."""
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from engagement.models import Redemption, Reward, SpendHold
from mall.models import UserCoupon
from tests.engagement.conftest import rules_run
from tests.engagement.factories import MemberLevelFactory, RewardFactory, TaskGroupFactory, TaskRuleFactory
from tests.factories import AuthSessionFactory, CouponTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthSessionFactory(user=user).issued_access_token}")
    return client


def test_every_endpoint_needs_a_login():
    for method, path in [("get", "/api/v1/engagement/accounts"), ("get", "/api/v1/engagement/entries"),
                         ("post", "/api/v1/engagement/check-ins"), ("get", "/api/v1/engagement/tasks"),
                         ("get", "/api/v1/engagement/onboarding"), ("get", "/api/v1/engagement/levels"),
                         ("get", "/api/v1/engagement/rewards"), ("post", "/api/v1/engagement/rewards/1/redeem"),
                         ("get", "/api/v1/engagement/redemptions")]:
        response = getattr(APIClient(), method)(path)
        assert (response.status_code, response.json()["code"]) == (401, "not_authenticated"), path


def test_check_in_answers_the_streak_and_the_reward_to_come_and_a_second_one_changes_nothing(client, user):
    TaskRuleFactory(code="daily", streak_rewards="5,10,20")
    first = client.post("/api/v1/engagement/check-ins")
    assert first.status_code == 201
    assert first.json()["created"] is True and first.json()["streak"] == 1
    assert first.json()["rewards"] == [{"rule": "daily", "currency": "points", "amount": 5}]
    again = client.post("/api/v1/engagement/check-ins")
    assert (again.status_code, again.json()["created"], again.json()["day"]) == (200, False, first.json()["day"])
    rules_run()
    accounts = client.get("/api/v1/engagement/accounts").json()
    points = next(account for account in accounts["accounts"] if account["currency"] == "points")
    assert (points["balance"], points["available"], points["held"], points["debt"]) == (5, 5, 0, 0)
    assert accounts["checkout"] == {"points_per_yuan": 100, "points_max_share": "0.50"}
    entries = client.get("/api/v1/engagement/entries", {"currency": "points"}).json()
    assert entries["count"] == 1 and entries["results"][0]["kind"] == "award"
    assert entries["results"][0]["amount"] == 5
    assert client.get("/api/v1/engagement/entries", {"currency": "energy"}).json()["count"] == 0
    refused = client.get("/api/v1/engagement/entries", {"currency": "gold"})
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid")


def test_tasks_and_the_onboarding_checklist_show_progress(client, user):
    onboarding = TaskGroupFactory()
    TaskRuleFactory(code="daily", group=onboarding, streak_rewards="5,10")
    TaskRuleFactory(code="profile", trigger="profile_completed", period="once", reward_amount=50, group=onboarding)
    TaskRuleFactory(code="shares", trigger="card_shared", max_per_period=3, reward_amount=2)
    TaskRuleFactory(code="reviews", trigger="review_posted", is_active=True)  # its events do not exist yet
    client.post("/api/v1/engagement/check-ins")
    rules_run()
    tasks = {task["code"]: task for task in client.get("/api/v1/engagement/tasks").json()}
    assert set(tasks) == {"daily", "profile", "shares"}  # a rule whose trigger is inactive is not shown
    assert (tasks["daily"]["done"], tasks["daily"]["limit"], tasks["daily"]["completed"]) == (1, 1, True)
    assert tasks["daily"]["extra"]["checked_in_today"] is True and tasks["daily"]["reward"] == 10
    assert (tasks["shares"]["done"], tasks["shares"]["limit"]) == (0, 3)
    progress = client.get("/api/v1/engagement/onboarding").json()
    assert (progress["code"], progress["done"], progress["total"]) == ("onboarding", 1, 2)
    assert [task["code"] for task in progress["tasks"]] == ["daily", "profile"]


def test_without_an_onboarding_checklist_the_answer_is_a_404(client):
    response = client.get("/api/v1/engagement/onboarding")
    assert (response.status_code, response.json()["code"]) == (404, "onboarding_not_found")


def test_my_level_and_the_levels(client, user):
    MemberLevelFactory(rank=1, min_experience=0, name="普通会员")
    MemberLevelFactory(rank=2, min_experience=100, name="银卡会员", discount_percent=2)
    TaskRuleFactory(code="exp", currency="experience", reward_amount=40)
    client.post("/api/v1/engagement/check-ins")
    rules_run()
    membership = client.get("/api/v1/engagement/accounts").json()["membership"]
    assert membership["experience"] == 40
    assert (membership["level"]["rank"], membership["next_level"]["rank"]) == (1, 2)
    assert [level["name"] for level in client.get("/api/v1/engagement/levels").json()] == ["普通会员", "银卡会员"]


def test_redeeming_a_coupon_for_card_energy_at_the_operators_rate(client, user):
    TaskRuleFactory(code="energy", currency="energy", reward_amount=300)
    client.post("/api/v1/engagement/check-ins")
    rules_run()
    template = CouponTemplateFactory(amount_off=Decimal("10.00"), threshold=Decimal("50.00"))
    exchange = RewardFactory(kind=Reward.Kind.COUPON, currency="energy", cost=200, coupon_template=template)
    RewardFactory(name="积分奖品")
    listed = client.get("/api/v1/engagement/rewards", {"currency": "energy"}).json()
    assert [reward["id"] for reward in listed["results"]] == [exchange.pk]
    assert listed["results"][0]["coupon_amount_off"] == "10.00"
    response = client.post(f"/api/v1/engagement/rewards/{exchange.pk}/redeem", {"idempotency_key": "swap-0001"},
                           format="json")
    assert response.status_code == 201
    coupon = UserCoupon.objects.get(pk=response.json()["user_coupon_id"])
    assert (coupon.user, coupon.template) == (user, template)
    replay = client.post(f"/api/v1/engagement/rewards/{exchange.pk}/redeem", {"idempotency_key": "swap-0001"},
                         format="json")
    assert (replay.status_code, replay.json()["id"]) == (200, response.json()["id"])
    rules_run()
    energy = next(account for account in client.get("/api/v1/engagement/accounts").json()["accounts"]
                  if account["currency"] == "energy")
    assert (energy["balance"], energy["held"]) == (100, 0)
    assert client.get("/api/v1/engagement/redemptions").json()["count"] == 1


@pytest.mark.parametrize("case,status,code", [
    ("unknown reward", 404, "reward_not_found"),
    ("off the shelf", 404, "reward_not_found"),
    ("out of stock", 422, "reward_out_of_stock"),
    ("not enough points", 422, "balance_insufficient"),
    ("no key", 400, "invalid"),
])
def test_a_refused_redemption_changes_nothing(client, user, case, status, code):
    TaskRuleFactory(code="points", reward_amount=50)
    client.post("/api/v1/engagement/check-ins")
    rules_run()
    reward = RewardFactory(cost=100 if case == "not enough points" else 10, stock=0 if case == "out of stock" else 5,
                           is_active=case != "off the shelf")
    reward_id = 999_999 if case == "unknown reward" else reward.pk
    body = {} if case == "no key" else {"idempotency_key": "refused-0001"}
    response = client.post(f"/api/v1/engagement/rewards/{reward_id}/redeem", body, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert set(response.json()) == {"code", "message", "detail"}
    assert not Redemption.objects.exists() and not SpendHold.objects.exists()
    assert Reward.objects.get(pk=reward.pk).stock == (0 if case == "out of stock" else 5)


def test_refusals_speak_chinese_by_default_and_english_on_request(client):
    RewardFactory(stock=0)
    reward = Reward.objects.get()
    chinese = client.post(f"/api/v1/engagement/rewards/{reward.pk}/redeem", {"idempotency_key": "speak-00001"},
                          format="json")
    english = client.post(f"/api/v1/engagement/rewards/{reward.pk}/redeem", {"idempotency_key": "speak-00001"},
                          format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert chinese.json()["message"] != english.json()["message"]
    assert english.json()["message"] == "this reward is out of stock"
