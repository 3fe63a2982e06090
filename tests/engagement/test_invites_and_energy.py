"""Who invited whom comes from cards' share chain and first-touch bindings; card energy (名片能量值) goes to whoever's
share brought a visit, a lead and an order. Real cards flows (tracking, the visit consumer, login, identify, a paid
order), then the rules engine."""
import re
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.sms import MemorySmsBackend
from cards.services import sharing
from core.events import consumer_run, record_event
from engagement.models import EngineUser, TaskAward
from engagement.services.replay import engine_replay
from mall.models import StoreStaff
from mall.services import after_sales
from tests.engagement.conftest import at, balance, rules_run
from tests.engagement.factories import TaskRuleFactory
from tests.factories import (
    AddressFactory,
    ListingFactory,
    ProductFactory,
    ShippingRateFactory,
    SKUFactory,
    StoreFactory,
    UserFactory,
)
from tests.mall.conftest import pay, place, send_refunds

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = "device-alice-0001"
ALICE_PHONE = "13900009999"


def visits_run() -> int:
    return consumer_run(name="cards.visits")


@pytest.fixture
def card():
    store = StoreFactory()
    rep = UserFactory(role="merchant_staff")
    StoreStaff.objects.create(store=store, user=rep, role=StoreStaff.Role.SALES_REP)
    card = sharing.card_save(owner=rep, store_id=store.pk, name="王小明", phone="13800138000")
    return sharing.card_publish(owner=rep, card_id=card.pk)


@pytest.fixture
def invite_rules():
    return {
        "share": TaskRuleFactory(code="share", trigger="card_shared", reward_amount=5),
        "registered": TaskRuleFactory(code="invite-registered", trigger="friend_registered", period="per_subject",
                                      reward_amount=100),
        "ordered": TaskRuleFactory(code="invite-ordered", trigger="friend_ordered", period="per_subject",
                                   reward_amount=300),
        "visit": TaskRuleFactory(code="energy-visit", trigger="share_brought_visitor", period="per_subject",
                                 currency="energy", reward_amount=1),
        "lead": TaskRuleFactory(code="energy-lead", trigger="share_brought_lead", period="per_subject",
                                currency="energy", reward_amount=5),
        "order": TaskRuleFactory(code="energy-order", trigger="share_brought_order", period="per_subject",
                                 currency="energy", reward_amount=20),
    }


def track(card, share, action: str, visit: str = "visit-alice-1") -> None:
    sharing.card_track(visit_id=visit, action=action, share_id=share.pk, visitor_id=ALICE)


def log_in(phone: str) -> tuple:
    client = APIClient()
    assert client.post("/api/v1/auth/code", {"phone": phone}, format="json").status_code == 202
    code = re.search(r"\b(\d{6})\b", MemorySmsBackend.outbox[-1][1]).group(1)
    response = client.post("/api/v1/auth/login", {"phone": phone, "code": code}, format="json")
    assert response.status_code == 200 and response.json()["created"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['access_token']}")
    return client, response.json()["user"]["id"]


def test_a_shared_card_brings_a_visitor_who_registers_and_orders_and_its_sharer_earns_each_step(card, invite_rules):
    rep_share = sharing.share_create(card_id=card.pk, user_id=card.owner_id)
    sharer = UserFactory()
    share = sharing.share_create(parent_id=rep_share.pk, user_id=sharer.pk)
    track(card, share, "view_card")
    track(card, share, "copy_wechat")  # a lead
    visits_run()
    rules_run()
    assert balance(sharer) == (5, 0, 0)  # shared a card
    assert balance(sharer, "energy") == (6, 0, 0)  # a new visitor and a lead
    assert balance(card.owner, "energy") == (0, 0, 0)  # the visitor came through the sharer's share, not the rep's

    client, alice_id = log_in(ALICE_PHONE)  # Alice registers...
    assert client.post("/api/v1/cards/identify", HTTP_X_VISITOR_ID=ALICE).status_code in (200, 204)
    visits_run()  # ...her device's first touch follows her: card_referral_bound for u:<Alice>
    rules_run()
    assert balance(sharer) == (105, 0, 0)
    assert EngineUser.objects.get(user_id=alice_id).inviter_key == f"u:{sharer.pk}"
    assert balance(sharer, "energy") == (6, 0, 0)  # a moved binding brought nobody new

    rate = ShippingRateFactory()
    listing = ListingFactory(store=card.store, price=Decimal("80.00"), sku=SKUFactory(product=ProductFactory(
        supplier=rate.template.supplier, shipping_template=rate.template)))
    alice = User.objects.get(pk=alice_id)
    order = pay(place(alice, AddressFactory(user=alice), listing))
    visits_run()  # the lead converts
    rules_run()
    assert balance(sharer) == (405, 0, 0)
    assert balance(sharer, "energy") == (26, 0, 0)
    assert TaskAward.objects.get(rule=invite_rules["ordered"]).order_id == order.pk

    request = after_sales.after_sale_request(buyer=alice, order_id=order.pk, line_id=order.lines.get().pk,
                                             kind="refund_only", quantity=1, reason="不要了")
    after_sales.after_sale_approve(after_sale_id=request.pk, store=order.store, actor=order.store.owner)
    send_refunds()
    rules_run()
    assert balance(sharer) == (105, 0, 0)  # the friend's order was refunded: its rewards are taken back
    assert balance(sharer, "energy") == (6, 0, 0)

    before = [balance(sharer), balance(sharer, "energy")]
    engine_replay()
    assert [balance(sharer), balance(sharer, "energy")] == before


def test_someone_registered_long_before_they_open_a_share_was_not_invited(card, invite_rules):
    friend, sharer = UserFactory(), UserFactory()
    share = sharing.share_create(card_id=card.pk, user_id=sharer.pk)
    record_event(kind="user_registered", actor=friend, target=friend, occurred_at=at(1))
    record_event(kind="card_referral_bound", object_type="cards.businesscard", object_id=card.pk, occurred_at=at(5),
                 payload={"card_id": card.pk, "visitor_key": f"u:{friend.pk}", "share_id": share.pk,
                          "sharer_key": f"u:{sharer.pk}", "depth": 1, "channel": "friend", "replaced": None})
    rules_run()
    assert not TaskAward.objects.filter(rule=invite_rules["registered"]).exists()
    assert EngineUser.objects.get(user_id=friend.pk).inviter_key == ""
    assert balance(sharer, "energy") == (1, 0, 0)  # still a visitor the share brought


def test_nobody_earns_from_their_own_share(card, invite_rules):
    sharer = UserFactory()
    share = sharing.share_create(card_id=card.pk, user_id=sharer.pk)
    sharing.card_track(visit_id="own-visit-1", action="copy_wechat", share_id=share.pk, user_id=sharer.pk)
    visits_run()
    rules_run()
    assert balance(sharer, "energy") == (0, 0, 0)
    assert balance(sharer) == (5, 0, 0)  # the share itself
