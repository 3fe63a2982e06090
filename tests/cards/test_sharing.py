"""Cards and shares: who may make a card, what a visitor sees, share chains and their depth, forged links, and
what the tracking endpoint writes (one event, nothing else)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cards.models import BusinessCard, CardVisit, Share
from cards.services import sharing
from core.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from core.models import BehaviourEvent
from tests.cards.conftest import track
from tests.factories import ListingFactory, StoreFactory, UserFactory

pytestmark = pytest.mark.django_db

VISITOR = "device-aaaa-0001"


def test_the_phone_is_stored_encrypted_and_shown_masked(card):
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM cards_businesscard WHERE id = %s", [card.pk])
        stored = cursor.fetchone()[0]
    assert "13800138000" not in stored and stored.startswith("v1:")
    assert BusinessCard.objects.get(pk=card.pk).phone == "13800138000"
    assert card.phone_masked == "138****8000"


def test_only_the_stores_staff_make_cards_and_feature_only_its_listings(rep, store):
    outsider = UserFactory()
    with pytest.raises(PermissionDenied):
        sharing.card_save(owner=outsider, store_id=store.pk, name="路人")
    foreign = ListingFactory(store=StoreFactory())
    with pytest.raises(ValidationFailed) as refused:
        sharing.card_save(owner=rep, store_id=store.pk, name="王小明", featured_listing_ids=[foreign.pk])
    assert refused.value.code == "featured_not_in_store"
    assert not BusinessCard.objects.exists()
    own = ListingFactory(store=store)
    card = sharing.card_save(owner=rep, store_id=store.pk, name="王小明", featured_listing_ids=[own.pk])
    again = sharing.card_save(owner=rep, store_id=store.pk, name="王小明 (改)", featured_listing_ids=[own.pk])
    assert again.pk == card.pk and BusinessCard.objects.count() == 1  # one card per rep and store


def test_shares_form_a_chain_whose_depth_is_the_parents_plus_one(card, rep):
    root = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    child = sharing.share_create(parent_id=root.pk, visitor_id=VISITOR, channel="group")
    grandchild = sharing.share_create(parent_id=child.pk, visitor_id="device-bbbb-0002", channel="moments")
    assert (root.depth, child.depth, grandchild.depth) == (1, 2, 3)
    assert (child.parent_id, grandchild.parent_id) == (root.pk, child.pk)
    assert child.sharer_key == f"v:{VISITOR}" and root.sharer_key == f"u:{rep.pk}"
    assert len(root.pk) == 16 and not root.pk.isdigit()  # opaque: nothing about the card or the sharer
    kinds = list(BehaviourEvent.objects.filter(kind="card_shared").values_list("payload__depth", flat=True))
    assert sorted(kinds) == [1, 2, 3]


def test_forged_or_mismatched_share_ids_are_refused_and_change_nothing(card, rep):
    root = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    other_card = sharing.card_publish(owner=rep, card_id=sharing.card_save(
        owner=rep, store_id=StoreFactory(owner=rep).pk, name="王小明").pk)
    before = (Share.objects.count(), BehaviourEvent.objects.count())
    with pytest.raises(NotFound):
        sharing.share_create(parent_id="forged-share-id1", visitor_id=VISITOR)
    with pytest.raises(ValidationFailed):
        sharing.share_create(parent_id=root.pk, card_id=other_card.pk, visitor_id=VISITOR)
    with pytest.raises(NotFound):
        track(card, visitor=VISITOR, share=Share(pk="doesnotexist0000"))
    with pytest.raises(NotAuthenticated):
        sharing.share_create(card_id=card.pk)  # neither logged in nor a device id
    assert (Share.objects.count(), BehaviourEvent.objects.count()) == before


def test_an_offline_card_neither_opens_nor_tracks(card, rep):
    share = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    sharing.card_publish(owner=rep, card_id=card.pk, published=False)
    with pytest.raises(NotFound):
        sharing.share_resolve(share_id=share.pk)
    with pytest.raises(NotFound):
        track(card, visitor=VISITOR)


def test_tracking_writes_one_event_and_nothing_else(card, rep):
    share = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    track(card, visitor=VISITOR, share=share)  # warms the share cache
    with CaptureQueriesContext(connection) as queries:
        track(card, visitor=VISITOR, share=share, action="view_product", listing_id=7, dwell_seconds=30)
    assert [query["sql"].split()[0] for query in queries.captured_queries] == ["INSERT"]
    event = BehaviourEvent.objects.filter(kind="card_action").latest("pk")
    assert event.visitor_id == VISITOR and event.actor_id is None and event.object_id == str(card.pk)
    assert event.payload == {"visit_id": "visit-0001", "action": "view_product", "share_id": share.pk,
                             "dwell_seconds": 30, "listing_id": 7}
    assert not CardVisit.objects.exists()  # visits are the consumer's job


@pytest.mark.parametrize(("body", "code"), [
    ({"visit_id": "short", "action": "view_card"}, "visit_id_invalid"),
    ({"visit_id": "visit-0001", "action": "dance"}, "action_invalid"),
    ({"visit_id": "visit-0001", "action": "view_card", "dwell_seconds": -1}, "dwell_invalid"),
    ({"visit_id": "visit-0001", "action": "view_card", "share_id": "../../etc"}, "share_id_invalid"),
    ({"visit_id": "visit-0001", "action": "view_card", "share_id": "forged-share-id1"}, "share_not_found"),
    ({"visit_id": "visit-0001", "action": "view_card"}, "card_required"),
    ({"visit_id": "visit-0001", "action": "view_card", "card_id": True}, "invalid"),
    ({"visit_id": "visit-0001", "action": "view_card", "surprise": 1}, "invalid"),
    (["not", "an", "object"], "invalid"),
])
def test_the_tracking_endpoint_refuses_bad_input_with_a_stable_code(card, body, code):
    before = BehaviourEvent.objects.count()
    response = APIClient().post("/api/v1/cards/track", body, format="json", HTTP_X_VISITOR_ID=VISITOR)
    assert response.status_code in (400, 404), response.content
    assert response.json()["code"] == code
    assert BehaviourEvent.objects.count() == before


def test_the_tracking_endpoint_answers_204_and_needs_a_device_or_a_login(card):
    client = APIClient()
    body = {"visit_id": "visit-0001", "action": "view_card", "card_id": card.pk}
    assert client.post("/api/v1/cards/track", body, format="json").json()["code"] == "visitor_unknown"
    response = client.post("/api/v1/cards/track", body, format="json", HTTP_X_VISITOR_ID=VISITOR)
    assert response.status_code == 204 and response.content == b""
    assert BehaviourEvent.objects.filter(kind="card_action", visitor_id=VISITOR).count() == 1


def test_tracking_takes_a_token_or_a_device_never_a_console_session(card, rep):
    from tests.factories import AuthSessionFactory

    body = {"visit_id": "visit-0002", "action": "view_card", "card_id": card.pk}
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(rep)  # a browser logged into the merchant console, sending a beacon without a CSRF token
    assert browser.post("/api/v1/cards/track", body, format="json",
                        HTTP_X_VISITOR_ID=VISITOR).status_code == 204  # the device, not the session
    shopper = AuthSessionFactory()
    token = APIClient(HTTP_AUTHORIZATION=f"Token {shopper.issued_access_token}")
    assert token.post("/api/v1/cards/track", body, format="json").status_code == 204
    assert list(BehaviourEvent.objects.filter(kind="card_action").order_by("pk").values_list(
        "actor_id", "visitor_id")) == [(None, VISITOR), (shopper.user_id, "")]


def test_a_visitor_sees_the_phone_masked_until_logged_in_with_a_phone(card, rep):
    share = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    anonymous = APIClient().get(f"/api/v1/cards/shares/{share.pk}").json()
    assert anonymous["card"]["phone"] == "138****8000" and anonymous["card"]["phone_masked"] is True
    assert anonymous["share"] == {"id": share.pk, "card_id": card.pk, "parent_id": None, "channel": "friend",
                                  "depth": 1, "path": f"/c/{share.pk}"}
    client = APIClient()
    client.force_authenticate(UserFactory())
    assert client.get(f"/api/v1/cards/{card.pk}").json()["phone"] == "13800138000"
    assert APIClient().get("/api/v1/cards/shares/forged-share-id1").json()["code"] == "share_not_found"


def test_a_rep_cannot_read_or_publish_another_reps_card(card, store):
    other = UserFactory()
    client = APIClient()
    client.force_authenticate(other)
    assert client.get(f"/api/v1/cards/mine/{card.pk}").status_code == 404
    response = client.post(f"/api/v1/cards/mine/{card.pk}/publish", {"published": False}, format="json")
    assert response.status_code == 404
    assert BusinessCard.objects.get(pk=card.pk).status == BusinessCard.Status.PUBLISHED
