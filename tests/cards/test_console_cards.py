"""The cards pages of the merchant console (cards/console.py): a rep's own cards, leads, visits, customers and
commission; what a store's manager sees and may do; other reps' rows do not exist (404), in the console as in the
API; every change goes through the services."""
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cards import radar
from cards.models import (
    BusinessCard,
    CardMessage,
    CardVisit,
    CommissionAccount,
    CustomerAssignment,
    CustomerAssignmentChange,
    Lead,
    LeadNote,
    Withdrawal,
)
from cards.services import sharing
from core.models import BehaviourEvent
from mall.models import StoreStaff
from tests.factories import ListingFactory, UserFactory

pytestmark = pytest.mark.django_db

LEADS = "/merchant/cards/lead/"


@pytest.fixture
def second_rep(store):
    user = UserFactory(role="merchant_staff")
    StoreStaff.objects.create(store=store, user=user, role=StoreStaff.Role.SALES_REP)
    return user


@pytest.fixture
def manager(store):
    user = UserFactory(role="merchant_staff")
    StoreStaff.objects.create(store=store, user=user, role=StoreStaff.Role.MANAGER)
    return user


def _lead(owner, card, visitor: str, **fields) -> Lead:
    now = timezone.now()
    return Lead.objects.create(owner=owner, card=card, store=card.store, visitor_key=f"v:{visitor}",
                               first_seen_at=now, last_seen_at=now, **fields)


@pytest.fixture
def leads_of_two_reps(card, rep, second_rep, store):
    second_card = sharing.card_publish(owner=second_rep, card_id=sharing.card_save(
        owner=second_rep, store_id=store.pk, name="李四").pk)
    mine = _lead(rep, card, "device-mine-0001", visits=3, dwell_seconds=200, tags=["价格", "家居"],
                 intent_score=Decimal("0.812"), intent_reasons=["近 3 天访问 3 次", "复制了微信号"],
                 actions={"view_card": 3, "copy_wechat": 1})
    theirs = _lead(second_rep, second_card, "device-their-0002")
    return mine, theirs


def test_a_rep_lists_only_their_own_leads_with_score_reasons_and_tags(client, rep, leads_of_two_reps):
    mine, _theirs = leads_of_two_reps
    client.force_login(rep)
    response = client.get(LEADS)
    assert response.status_code == 200
    assert [lead.pk for lead in response.context["cl"].result_list] == [mine.pk]
    page = response.content.decode()
    for text in ("访客0001", "81%", "近 3 天访问 3 次；复制了微信号", "价格、家居", "3分20秒"):
        assert text in page, text
    assert "访客0002" not in page
    assert client.get(LEADS + "?stage__exact=new").context["cl"].result_count == 1
    assert client.get(LEADS + "?next_action=none").context["cl"].result_count == 1


def test_another_reps_lead_is_a_404_in_the_console_and_the_api_and_a_post_changes_nothing(client, rep,
                                                                                        leads_of_two_reps):
    _mine, theirs = leads_of_two_reps
    client.force_login(rep)
    before = (Lead.objects.get(pk=theirs.pk).stage, LeadNote.objects.count(), CardMessage.objects.count())
    assert client.get(f"{LEADS}{theirs.pk}/change/").status_code == 404
    assert client.post(f"{LEADS}{theirs.pk}/change/", {"stage": "lost", "note": "抢过来"}).status_code == 404
    assert client.get(f"{LEADS}{theirs.pk}/history/").status_code == 404
    api = APIClient()
    api.force_authenticate(rep)
    for response in (api.get(f"/api/v1/leads/{theirs.pk}"), api.patch(f"/api/v1/leads/{theirs.pk}", {"stage": "lost"}),
                     api.get(f"/api/v1/leads/{theirs.pk}/messages"),
                     api.post(f"/api/v1/leads/{theirs.pk}/messages", {"text": "hi", "client_key": "steal-0001"})):
        assert (response.status_code, response.json()["code"]) == (404, "lead_not_found")
    assert (Lead.objects.get(pk=theirs.pk).stage, LeadNote.objects.count(), CardMessage.objects.count()) == before


def test_a_manager_sees_the_stores_leads_read_only(client, manager, leads_of_two_reps):
    mine, theirs = leads_of_two_reps
    client.force_login(manager)
    listed = client.get(LEADS).context["cl"].result_list
    assert {lead.pk for lead in listed} == {mine.pk, theirs.pk}
    page = client.get(f"{LEADS}{mine.pk}/change/")
    assert page.status_code == 200 and 'name="note"' not in page.content.decode()
    refused = client.post(f"{LEADS}{mine.pk}/change/", {"stage": "lost", "note": "我来跟"})
    assert refused.status_code == 403
    assert Lead.objects.get(pk=mine.pk).stage == Lead.Stage.NEW and not LeadNote.objects.exists()


def _follow_up_form(client, lead) -> dict:
    form = client.get(f"{LEADS}{lead.pk}/change/").context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update({"notes-TOTAL_FORMS": "0", "notes-INITIAL_FORMS": "0", "notes-MIN_NUM_FORMS": "0",
                 "notes-MAX_NUM_FORMS": "1000"})
    return data


def test_the_rep_follows_a_lead_up_and_answers_its_chat_through_the_services(client, rep, card, leads_of_two_reps):
    mine, _theirs = leads_of_two_reps
    CardMessage.objects.create(card=card, visitor_key=mine.visitor_key, direction="in", text="有现货吗？",
                               client_key="visitor-msg-1")
    client.force_login(rep)
    page = client.get(f"{LEADS}{mine.pk}/change/").content.decode()
    assert "有现货吗？" in page and 'name="reply"' in page
    data = _follow_up_form(client, mine)
    data.update({"stage": "contacted", "note": "电话沟通，周五到店", "reply": "有的，周五见",
                 "next_action_at_0": "2026-12-31", "next_action_at_1": "10:00:00"})
    response = client.post(f"{LEADS}{mine.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    mine.refresh_from_db()
    assert mine.stage == Lead.Stage.CONTACTED and mine.next_action_at is not None
    note = LeadNote.objects.get(lead=mine)
    assert (note.text, note.stage_from, note.stage_to, note.author_id) == ("电话沟通，周五到店", "new", "contacted",
                                                                          rep.pk)
    assert BehaviourEvent.objects.filter(kind="lead_stage_changed", payload__lead_id=mine.pk).count() == 1
    answer = CardMessage.objects.get(direction="out")
    assert (answer.text, answer.author_id, answer.visitor_key) == ("有的，周五见", rep.pk, mine.visitor_key)
    client.post(f"{LEADS}{mine.pk}/change/", data)  # the same form sent twice: one answer, no second stage change
    assert CardMessage.objects.filter(direction="out").count() == 1
    assert BehaviourEvent.objects.filter(kind="lead_stage_changed").count() == 1


def test_an_empty_answer_is_nothing_to_send_and_a_too_long_one_is_a_form_error(client, rep, leads_of_two_reps):
    mine, _theirs = leads_of_two_reps
    client.force_login(rep)
    data = _follow_up_form(client, mine)
    assert client.post(f"{LEADS}{mine.pk}/change/", {**data, "reply": "   "}).status_code == 302
    response = client.post(f"{LEADS}{mine.pk}/change/", {**data, "reply": "长" * 1001, "stage": "won"})
    assert response.status_code == 200 and response.context["adminform"].form.errors["reply"]
    assert Lead.objects.get(pk=mine.pk).stage == Lead.Stage.NEW and not CardMessage.objects.exists()


def test_a_rep_saves_their_card_through_the_service_and_a_refusal_is_a_form_error(client, rep, store):
    listing = ListingFactory(store=store)
    foreign = ListingFactory()
    client.force_login(rep)
    base = {"name": "王小明", "title": "导购", "company": "", "wechat_id": "wxm", "avatar_url": "", "intro": "",
            "theme": "business"}
    refused = client.post("/merchant/cards/businesscard/add/", {**base, "phone": "call me"})
    assert refused.status_code == 200 and refused.context["adminform"].form.errors["phone"]
    refused = client.post("/merchant/cards/businesscard/add/", {**base, "phone": "", "featured_listings": [foreign.pk]})
    assert refused.status_code == 200 and not BusinessCard.objects.exists()
    response = client.post("/merchant/cards/businesscard/add/",
                           {**base, "phone": "138 0013 8000", "featured_listings": [listing.pk]})
    assert response.status_code == 302
    card = BusinessCard.objects.get()
    assert (card.owner_id, card.store_id, card.phone, card.phone_masked, card.theme) == (
        rep.pk, store.pk, "13800138000", "138****8000", "business")
    assert list(card.featured_links.values_list("listing_id", flat=True)) == [listing.pk]
    response = client.post("/merchant/cards/businesscard/", {"action": "publish", "_selected_action": [card.pk]})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.status == BusinessCard.Status.PUBLISHED
    assert BehaviourEvent.objects.filter(kind="card_published").count() == 1


def test_a_managers_view_of_a_reps_card_is_read_only(client, manager, card):
    client.force_login(manager)
    assert card.pk in [row.pk for row in client.get("/merchant/cards/businesscard/").context["cl"].result_list]
    response = client.post(f"/merchant/cards/businesscard/{card.pk}/change/", {"name": "改掉", "theme": "night"})
    assert response.status_code == 403 and BusinessCard.objects.get(pk=card.pk).name == "王小明"


@pytest.fixture
def customer_of_rep(store, rep):
    return CustomerAssignment.objects.create(store=store, customer=UserFactory(), rep=rep)


def test_a_manager_reassigns_a_customer_with_a_reason_and_it_is_audited(client, manager, rep, second_rep,
                                                                       customer_of_rep):
    client.force_login(manager)
    url = f"/merchant/cards/customerassignment/{customer_of_rep.pk}/change/"
    form = client.get(url).context["adminform"].form
    offered = set(form.fields["rep"].queryset.values_list("pk", flat=True))
    assert second_rep.pk in offered and UserFactory().pk not in offered
    management = {"changes-TOTAL_FORMS": "0", "changes-INITIAL_FORMS": "0", "changes-MIN_NUM_FORMS": "0",
                  "changes-MAX_NUM_FORMS": "1000"}
    refused = client.post(url, {"rep": second_rep.pk, "reason": "", **management})
    assert refused.status_code == 200 and refused.context["adminform"].form.errors["reason"]
    assert client.post(url, {"rep": second_rep.pk, "reason": "原导购离职", **management}).status_code == 302
    customer_of_rep.refresh_from_db()
    assert (customer_of_rep.rep_id, customer_of_rep.source) == (second_rep.pk, "manual")
    change = CustomerAssignmentChange.objects.get()
    assert (change.from_rep_id, change.to_rep_id, change.changed_by_id, change.reason) == (
        rep.pk, second_rep.pk, manager.pk, "原导购离职")


def test_a_rep_sees_their_own_customers_but_cannot_reassign_them(client, rep, second_rep, customer_of_rep, store):
    someone_elses = CustomerAssignment.objects.create(store=store, customer=UserFactory(), rep=second_rep)
    client.force_login(rep)
    listed = client.get("/merchant/cards/customerassignment/").context["cl"].result_list
    assert [row.pk for row in listed] == [customer_of_rep.pk]
    assert client.get(f"/merchant/cards/customerassignment/{someone_elses.pk}/change/").status_code == 404
    response = client.post(f"/merchant/cards/customerassignment/{customer_of_rep.pk}/change/",
                           {"rep": second_rep.pk, "reason": "我不想要了"})
    assert response.status_code == 403
    assert CustomerAssignment.objects.get(pk=customer_of_rep.pk).rep_id == rep.pk
    assert not CustomerAssignmentChange.objects.exists()


def test_the_commission_page_shows_my_balances_and_withdrawals(client, rep):
    account = CommissionAccount.objects.create(user=rep, pending=Decimal("12.50"), withdrawable=Decimal("1234.00"))
    Withdrawal.objects.create(account=account, amount=Decimal("100.00"), fee=Decimal("0.60"),
                              net_amount=Decimal("99.40"), idempotency_key="console-wd-1")
    client.force_login(rep)
    page = client.get("/merchant/cards/commissionentry/").content.decode()
    assert "¥1,234.00" in page and "¥12.50" in page and "¥99.40" in page and "待审核" in page


def test_the_radar_page_lists_visits_to_my_cards_and_draws_the_latest_feed(client, rep, card, second_rep, store):
    now = timezone.now()
    CardVisit.objects.create(visit_key=f"{card.pk}:open-1", card=card, visitor_key="v:device-radar-0009",
                             started_at=now, last_seen_at=now, dwell_seconds=75, actions={"view_card": 1,
                                                                                          "copy_wechat": 1})
    other_card = sharing.card_save(owner=second_rep, store_id=store.pk, name="李四")
    CardVisit.objects.create(visit_key=f"{other_card.pk}:open-2", card=other_card, visitor_key="v:device-other-0001",
                             started_at=now, last_seen_at=now)
    radar.radar_push(items=[(rep.pk, {"at": now.isoformat(), "card_id": card.pk, "visitor_key": "v:x",
                                      "lead_id": None, "action": "view_card", "visit_number": 2,
                                      "new_visit": True, "text": "访客0009第2次查看了你的名片"})])
    client.force_login(rep)
    response = client.get("/merchant/cards/cardvisit/")
    page = response.content.decode()
    assert [visit.card_id for visit in response.context["cl"].result_list] == [card.pk]
    assert "访客0009" in page and "1分15秒" in page and "复制微信×1" in page and "访客0001" not in page
    latest = radar.radar_recent(owner_id=rep.pk)[0][0]
    assert "访客0009第2次查看了你的名片" in page and f'data-after="{latest}"' in page
    assert "/static/cards/console/radar.js" in page
