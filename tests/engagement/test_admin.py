"""The operator admin of engagement: every model has a themed page that answers (list, search, filters, date
drill-down, change, add); rules and levels save through the services' checks; actions call services."""
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from unfold.admin import ModelAdmin

from accounts.models import Role
from core.events import record_event
from engagement.models import Redemption, Reward, TaskRule
from engagement.services import checkins, ledger, rewards
from tests.engagement.conftest import at, paid, refunded, rules_run
from tests.engagement.factories import MemberLevelFactory, RewardFactory, TaskGroupFactory, TaskRuleFactory
from tests.factories import CouponTemplateFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = sorted(apps.get_app_config("engagement").get_models(), key=lambda model: model._meta.label)


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(role=Role.OPERATOR, is_staff=True, is_superuser=True))
    return client


def world_build(key: int) -> None:
    """At least one row of every engagement model, written the way the product writes them."""
    group = TaskGroupFactory()
    if key == 1:
        MemberLevelFactory(rank=1, min_experience=0)
        MemberLevelFactory(rank=2, min_experience=50, discount_percent=5)
        TaskRuleFactory(code="check-in", group=group, streak_rewards="5,10")
        TaskRuleFactory(code="exp", trigger="order_paid", period="per_subject", currency="experience",
                        reward_amount=0, reward_per_yuan=Decimal(1))
        TaskRuleFactory(code="coupon", trigger="order_paid", period="per_subject", reward_amount=0,
                        coupon_template=CouponTemplateFactory())
        TaskRuleFactory(code="points", trigger="order_paid", period="per_subject", reward_amount=500)
    user = UserFactory()
    record_event(kind="user_registered", actor=user, target=user, occurred_at=at(key, 9))
    checkins.check_in(user=user, at=at(key))
    paid(user, 1000 + key, "80.00", at(key))
    record_event(kind="card_shared", actor=user, object_type="cards.businesscard", object_id=1,
                 payload={"share_id": f"share-{key}", "parent_id": None, "channel": "friend", "depth": 1,
                          "sharer_key": f"u:{user.pk}"})
    rules_run()
    ledger.spend_hold(user_id=user.pk, currency="points", amount=100, reference=f"order:{1000 + key}",
                      reason="checkout", base=Decimal("80.00"), at=at(key, 11))
    refunded(1000 + key, "40.00", refund_id=key, when=at(key, 12))
    rewards.reward_redeem(user=user, reward_id=RewardFactory(cost=10).pk, idempotency_key=f"admin-world-{key}")
    rules_run()


@pytest.fixture
def world():
    world_build(1)


def url_of(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_engagement_model_has_a_themed_admin_with_an_icon():
    for model in MODELS:
        model_admin = admin.site._registry.get(model)
        assert isinstance(model_admin, ModelAdmin), model._meta.label
        assert getattr(model_admin, "icon", ""), model._meta.label


def test_every_page_answers_an_operator(operator_client, world):
    for model in MODELS:
        model_admin = admin.site._registry[model]
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"the world has no {model._meta.label}"
        changelist = url_of(model, "changelist")
        response = operator_client.get(changelist)
        assert response.status_code == 200, model._meta.label
        cl = response.context["cl"]
        for name in model_admin.search_fields:
            value = model._default_manager.filter(pk=obj.pk).values_list(name.removesuffix("__exact"),
                                                                          flat=True).first()
            if value not in (None, ""):
                found = operator_client.get(changelist, {"q": f'"{value}"'})
                assert obj.pk in [row.pk for row in found.context["cl"].result_list], (model._meta.label, name)
                break
        for spec in cl.filter_specs:
            choice = next((choice for choice in spec.choices(cl) if not choice["selected"]), None)
            if choice is not None:
                assert operator_client.get(changelist + choice["query_string"]).status_code == 200
        if model_admin.date_hierarchy:
            moment = (model._default_manager.filter(**{f"{model_admin.date_hierarchy}__isnull": False})
                      .values_list(model_admin.date_hierarchy, flat=True).first())
            day = timezone.localtime(moment).date() if hasattr(moment, "tzinfo") else moment
            drill = operator_client.get(changelist, {f"{model_admin.date_hierarchy}__year": day.year,
                                                     f"{model_admin.date_hierarchy}__month": day.month,
                                                     f"{model_admin.date_hierarchy}__day": day.day})
            assert drill.status_code == 200 and drill.context["cl"].result_count >= 1, model._meta.label
        response = operator_client.get(url_of(model, "change", quote(obj.pk)))
        assert response.status_code == 200, model._meta.label
        if model_admin.has_add_permission(response.wsgi_request):
            assert operator_client.get(url_of(model, "add")).status_code == 200, model._meta.label


def test_no_changelist_makes_a_query_per_row(operator_client, world):
    def queries() -> dict:
        counts = {}
        for model in MODELS:
            with CaptureQueriesContext(connection) as captured:
                assert operator_client.get(url_of(model, "changelist")).status_code == 200
            counts[model._meta.label] = len(captured)
        return counts

    before = queries()
    world_build(2)
    after = queries()
    assert {label: (before[label], after[label]) for label in before if after[label] > before[label]} == {}


def rule_form(**values) -> dict:
    form = {"code": "new-rule", "name": "新任务", "description": "", "group": "", "position": 0,
            "trigger": "checked_in", "condition": "always", "condition_value": "", "audience": "everyone",
            "audience_value": "",
            "valid_from_0": "", "valid_from_1": "", "valid_to_0": "", "valid_to_1": "", "currency": "points",
            "reward_amount": 10, "reward_per_yuan": "0", "streak_rewards": "", "streak_reset": "none",
            "coupon_template": "", "validity_days": "", "period": "daily", "max_per_period": 1}
    form.update(values)
    return form


def test_an_operator_adds_a_rule_and_the_admin_refuses_what_cannot_work(operator_client):
    add = url_of(TaskRule, "add")
    refused = operator_client.post(add, rule_form(trigger="review_posted", is_active="on"))
    assert refused.status_code == 200 and "order_reviewed" in str(refused.context["adminform"].form.errors)
    refused = operator_client.post(add, rule_form(condition="amount_at_least"))
    assert "condition_value" in refused.context["adminform"].form.errors
    refused = operator_client.post(add, rule_form(streak_rewards="5,ten"))
    assert "streak_rewards" in refused.context["adminform"].form.errors
    refused = operator_client.post(add, rule_form(reward_amount=0))
    assert "reward_amount" in refused.context["adminform"].form.errors
    assert not TaskRule.objects.filter(code="new-rule").exists()
    saved = operator_client.post(add, rule_form(streak_rewards="5, 10，20", is_active="on"))
    assert saved.status_code == 302
    rule = TaskRule.objects.get(code="new-rule")
    assert (rule.streak_rewards, rule.is_active) == ("5,10,20", True)


def test_switching_on_a_rule_whose_events_do_not_exist_is_refused_row_by_row(operator_client):
    waiting = TaskRuleFactory(code="reviews", trigger="review_posted", is_active=False)
    ready = TaskRuleFactory(code="daily", is_active=False)
    operator_client.post(url_of(TaskRule, "changelist"), {"action": "switch_on",
                                                          "_selected_action": [waiting.pk, ready.pk]})
    assert list(TaskRule.objects.filter(code__in=["reviews", "daily"]).order_by("code").values_list(
        "code", "is_active")) == [("daily", True), ("reviews", False)]


def test_an_item_is_marked_sent_once(operator_client):
    user = UserFactory()
    TaskRuleFactory(code="daily", reward_amount=100)
    checkins.check_in(user=user, at=at(1))
    rules_run()
    redemption, _created = rewards.reward_redeem(user=user, reward_id=RewardFactory().pk, idempotency_key="item-0001")
    for _ in range(2):
        operator_client.post(url_of(Redemption, "changelist"), {"action": "fulfil",
                                                                "_selected_action": [redemption.pk]})
    redemption.refresh_from_db()
    assert redemption.status == Redemption.Status.FULFILLED


def test_a_coupon_reward_without_a_template_is_a_form_error(operator_client):
    response = operator_client.post(url_of(Reward, "add"), {"name": "券", "kind": "coupon", "currency": "points",
                                                            "cost": 100, "stock": 5, "per_user_limit": 1,
                                                            "position": 0, "is_active": "on"})
    assert response.status_code == 200 and "coupon_template" in response.context["adminform"].form.errors
    assert not Reward.objects.exists()
