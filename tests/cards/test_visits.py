"""The visit consumer: visits, first touch (and the attribution settings), leads, a device that logs in, one rep
per store, distribution bindings from the chain, conversions. It runs outside any transaction, as the beat runs it.
"""
from decimal import Decimal

import pytest
from django.test import override_settings

from cards.models import CardVisit, CustomerAssignment, DistributionBinding, Lead, Referral
from cards.services import sharing
from core.events import record_event
from core.models import BehaviourEvent
from tests.cards.conftest import track, visits_run
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ALICE, BOB = "device-alice-0001", "device-bob-00002"


def test_actions_of_one_page_opening_make_one_visit_and_the_consumer_counts_each_once(card, rep):
    share = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    track(card, visitor=ALICE, share=share, visit="open-0001")
    track(card, visitor=ALICE, share=share, visit="open-0001", action="view_product", listing_id=11,
          dwell_seconds=40)
    track(card, visitor=ALICE, share=share, visit="open-0001", action="copy_wechat", dwell_seconds=95)
    assert visits_run() == 3
    assert visits_run() == 0  # a second run finds nothing new
    visit = CardVisit.objects.get()
    assert visit.visitor_key == f"v:{ALICE}" and visit.share_id == share.pk
    assert visit.actions == {"view_card": 1, "view_product": 1, "copy_wechat": 1}
    assert (visit.dwell_seconds, visit.products) == (95, [11])
    track(card, visitor=ALICE, share=share, visit="open-0002")  # she comes back another day
    visits_run()
    lead = Lead.objects.get()
    assert (lead.owner_id, lead.visitor_key, lead.visits) == (rep.pk, f"v:{ALICE}", 2)
    assert lead.stage == Lead.Stage.INTERESTED  # copying the WeChat id is a high-intent action
    assert lead.actions["view_card"] == 2


def test_first_touch_wins_for_ever_by_default(card, rep):
    first = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    forwarded = sharing.share_create(parent_id=first.pk, visitor_id=BOB)
    track(card, visitor=ALICE, share=first, visit="open-0001")
    visits_run()
    track(card, visitor=ALICE, share=forwarded, visit="open-0002")
    visits_run()
    referral = Referral.objects.get(visitor_key=f"v:{ALICE}")
    assert referral.share_id == first.pk
    bound = BehaviourEvent.objects.filter(kind="card_referral_bound", payload__visitor_key=f"v:{ALICE}")
    assert bound.count() == 1


@override_settings(CARDS_ATTRIBUTION="last_click")
def test_last_click_moves_the_referral_and_records_what_it_replaced(card, rep):
    first = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    forwarded = sharing.share_create(parent_id=first.pk, visitor_id=BOB)
    track(card, visitor=ALICE, share=first, visit="open-0001")
    visits_run()
    track(card, visitor=ALICE, share=forwarded, visit="open-0002")
    visits_run()
    assert Referral.objects.get(visitor_key=f"v:{ALICE}").share_id == forwarded.pk
    moved = BehaviourEvent.objects.filter(kind="card_referral_bound").latest("pk")
    assert moved.payload["replaced"] == first.pk and moved.payload["depth"] == 2


def test_nobody_is_their_own_referral(card, rep):
    share = sharing.share_create(card_id=card.pk, visitor_id=ALICE)
    track(card, visitor=ALICE, share=share, visit="open-0001")  # Alice opens the link she made
    track(card, user=rep, share=share, visit="open-0002")  # the rep opens their own card
    visits_run()
    assert not Referral.objects.exists()
    assert list(Lead.objects.values_list("visitor_key", flat=True)) == [f"v:{ALICE}"]  # she is a lead, he is not
    assert CardVisit.objects.count() == 2


def test_a_device_that_logs_in_brings_its_visits_and_binds_the_customer_to_the_rep_and_the_chain(card, rep, store):
    promoter = UserFactory()
    root = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    forwarded = sharing.share_create(parent_id=root.pk, user_id=promoter.pk, channel="group")
    track(card, visitor=ALICE, share=forwarded, visit="open-0001", dwell_seconds=20)
    visits_run()
    alice = UserFactory()
    sharing.visitor_identify(user=alice, visitor_id=ALICE)
    sharing.visitor_identify(user=alice, visitor_id=ALICE)  # a retried call changes nothing
    visits_run()
    assert CardVisit.objects.get().visitor_key == f"u:{alice.pk}"
    assert Referral.objects.get().visitor_key == f"u:{alice.pk}"
    assert Lead.objects.get().user_id == alice.pk
    assert CustomerAssignment.objects.get(store=store, customer=alice).rep_id == rep.pk
    binding = DistributionBinding.objects.get(store=store, buyer=alice)
    assert (binding.level1_id, binding.level2_id, binding.share_id) == (promoter.pk, rep.pk, forwarded.pk)
    assert BehaviourEvent.objects.filter(kind="visitor_merged", payload__to_key=f"u:{alice.pk}").count() == 1


def test_a_customer_keeps_the_first_rep_of_a_store(card, rep, store):
    from mall.models import StoreStaff

    second_rep = UserFactory()
    StoreStaff.objects.create(store=store, user=second_rep)
    second_card = sharing.card_publish(owner=second_rep, card_id=sharing.card_save(
        owner=second_rep, store_id=store.pk, name="李四").pk)
    alice = UserFactory()
    track(card, user=alice, share=sharing.share_create(card_id=card.pk, user_id=rep.pk), visit="open-0001")
    visits_run()
    track(second_card, user=alice, share=sharing.share_create(card_id=second_card.pk, user_id=second_rep.pk),
          visit="open-0002")
    visits_run()
    assert CustomerAssignment.objects.get(store=store, customer=alice).rep_id == rep.pk
    assert Lead.objects.filter(visitor_key=f"u:{alice.pk}").count() == 2  # both reps see her as a lead


def test_a_payment_in_the_store_converts_the_buyers_lead(card, rep, store):
    alice = UserFactory()
    track(card, user=alice, share=sharing.share_create(card_id=card.pk, user_id=rep.pk), visit="open-0001")
    visits_run()
    record_event(kind="order_paid", actor=alice, object_type="mall.order", object_id=99,
                 payload={"total": Decimal("88.00"), "store_id": store.pk, "kind": "normal", "lines": []})
    visits_run()
    lead = Lead.objects.get()
    assert lead.converted_at is not None and lead.stage == Lead.Stage.WON
    converted = BehaviourEvent.objects.get(kind="lead_converted")
    assert converted.payload["order_id"] == 99 and converted.payload["card_id"] == card.pk


def test_a_visits_dwell_reported_in_several_batches_counts_once_on_the_lead(card, rep):
    share = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    track(card, visitor=ALICE, share=share, visit="open-0001", action="leave", dwell_seconds=40)
    visits_run()
    track(card, visitor=ALICE, share=share, visit="open-0001", action="leave", dwell_seconds=60)  # dwell so far
    visits_run()
    assert CardVisit.objects.get().dwell_seconds == 60
    assert Lead.objects.get().dwell_seconds == 60
