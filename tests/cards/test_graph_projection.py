"""The share-graph projection: the consumer `cards.graph` makes the graph the rows say (one incoming REFERRED per
visitor per card, whatever happens), replays change nothing, and `graph_rebuild` gives the same graph."""
import pytest
from django.core.management import call_command
from django.test import override_settings

from cards.models import Referral, Share
from cards.projection import CONSUMER, graph_rebuild
from cards.services import sharing
from cards.tasks import graph_rebuild_task
from core.events import consumer_lag
from core.models import EventCursor
from tests.cards.conftest import track, visits_run
from tests.cards.graph_world import forest_grow, fresh_graph, graph_run, snapshot  # noqa: F401  (`graph`)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ALICE, BOB, CAROL = "device-alice-0001", "device-bob-00002", "device-carol-003"


def incoming(backend, card, key) -> list[str]:
    rows = backend.run("MATCH (s:Person)-[r:REFERRED {card: $card}]->(:Person {key: $key}) RETURN s.key AS sharer",
                       {"card": card.pk, "key": key})
    return sorted(row["sharer"] for row in rows)


def replay_all() -> None:
    """Move the consumer's cursor back to the start, as a crash before the cursor's advance would."""
    EventCursor.objects.filter(consumer=CONSUMER).update(transaction_id=0, event_id=0)


def test_shares_and_first_touches_become_a_tree_and_a_replay_or_a_rebuild_changes_nothing(graph, card, rep):
    root = sharing.share_create(card_id=card.pk, user_id=rep.pk, channel="moments")
    track(card, visitor=ALICE, share=root, visit="open-0001")
    forwarded = sharing.share_create(parent_id=root.pk, visitor_id=ALICE, channel="group")
    track(card, visitor=BOB, share=forwarded, visit="open-0002")
    visits_run()
    assert graph_run() == 4  # two shares, two referrals
    nodes, relationships = snapshot(graph)
    assert [(kind, start, end) for kind, start, end, _props in relationships] == [
        ("REFERRED", f"u:{rep.pk}", f"v:{ALICE}"), ("REFERRED", f"v:{ALICE}", f"v:{BOB}"),
        ("SHARED", f"u:{rep.pk}", card.pk), ("SHARED", f"v:{ALICE}", card.pk)]
    bob = dict(relationships[1][3])
    assert (bob["share"], bob["channel"], bob["depth"], bob["card"]) == (forwarded.pk, "group", 2, card.pk)
    assert bob["at"] == Referral.objects.get(visitor_key=f"v:{BOB}").bound_at.isoformat()
    assert ("Card", (("id", card.pk), ("owner_key", f"u:{rep.pk}"), ("store_id", card.store_id))) in nodes

    replay_all()
    assert graph_run() == 4
    assert snapshot(graph) == (nodes, relationships)
    counts = graph_rebuild()
    assert counts == {"cards": 1, "shares": 2, "referrals": 2, "conversions": 0, "swept": 0}
    assert snapshot(graph) == (nodes, relationships)
    assert consumer_lag(name=CONSUMER)["pending"] == 0


@override_settings(CARDS_ATTRIBUTION="last_click")
def test_a_moved_first_touch_leaves_one_incoming_referral_even_when_both_moves_are_in_one_batch(graph, card, rep):
    first = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    by_bob = sharing.share_create(parent_id=first.pk, visitor_id=BOB)
    by_carol = sharing.share_create(parent_id=first.pk, visitor_id=CAROL)
    for visit, share in (("open-0001", first), ("open-0002", by_bob), ("open-0003", by_carol)):
        track(card, visitor=ALICE, share=share, visit=visit)
        visits_run()  # three referral events for Alice: bound, moved, moved again
    graph_run()  # all three in one batch
    assert incoming(graph, card, f"v:{ALICE}") == [f"v:{CAROL}"]
    assert Referral.objects.get(visitor_key=f"v:{ALICE}").share_id == by_carol.pk
    track(card, visitor=ALICE, share=by_bob, visit="open-0004")
    visits_run()
    graph_run()
    assert incoming(graph, card, f"v:{ALICE}") == [f"v:{BOB}"]
    consumed = snapshot(graph)
    graph_rebuild()
    assert snapshot(graph) == consumed


def test_a_device_that_logs_in_takes_its_shares_and_referrals_along_and_its_node_goes(graph, card, rep):
    root = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    track(card, visitor=ALICE, share=root, visit="open-0001")
    by_alice = sharing.share_create(parent_id=root.pk, visitor_id=ALICE)
    track(card, visitor=BOB, share=by_alice, visit="open-0002")
    visits_run()
    graph_run()
    alice = UserFactory()
    sharing.visitor_identify(user=alice, visitor_id=ALICE)
    visits_run()
    # Bob's referral was recorded with Alice's device as sharer, her merge comes after it: replay both orders.
    graph_run()
    after = snapshot(graph)
    keys = {dict(props).get("key") for label, props in after[0] if label == "Person"}
    assert f"v:{ALICE}" not in keys and f"u:{alice.pk}" in keys
    assert incoming(graph, card, f"u:{alice.pk}") == [f"u:{rep.pk}"]
    assert incoming(graph, card, f"v:{BOB}") == [f"u:{alice.pk}"]
    assert Share.objects.get(pk=by_alice.pk).sharer_key == f"u:{alice.pk}"
    replay_all()
    graph_run()
    assert snapshot(graph) == after
    graph_rebuild()
    assert snapshot(graph) == after


def test_the_user_keeps_the_older_first_touch_when_a_device_merges_into_them(graph, card, rep, store):
    bob_share = sharing.share_create(card_id=card.pk, visitor_id=BOB)
    alice = UserFactory()
    track(card, user=alice, share=sharing.share_create(card_id=card.pk, user_id=rep.pk), visit="open-0001")
    visits_run()
    track(card, visitor=ALICE, share=bob_share, visit="open-0002")  # later, on her phone, not logged in
    visits_run()
    graph_run()
    sharing.visitor_identify(user=alice, visitor_id=ALICE)
    visits_run()
    graph_run()
    assert incoming(graph, card, f"u:{alice.pk}") == [f"u:{rep.pk}"]  # her first touch is the rep's share
    assert incoming(graph, card, f"v:{ALICE}") == []
    consumed = snapshot(graph)
    graph_rebuild()
    assert snapshot(graph) == consumed


def test_rebuild_sweeps_what_no_row_says_and_the_command_reports(graph, card, rep, capsys):
    root = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    track(card, visitor=ALICE, share=root, visit="open-0001")
    visits_run()
    graph_run()
    consumed = snapshot(graph)
    graph.run("MERGE (a:Person {key: 'v:stray-device-1'}) MERGE (b:Person {key: $alice}) "
              "MERGE (a)-[:REFERRED {card: $card, share: 'stray'}]->(b)", {"alice": f"v:{ALICE}", "card": card.pk})
    assert incoming(graph, card, f"v:{ALICE}") == [f"u:{rep.pk}", "v:stray-device-1"]
    call_command("graph_rebuild")
    assert "share graph rebuilt" in capsys.readouterr().out
    assert snapshot(graph) == consumed
    assert incoming(graph, card, f"v:{ALICE}") == [f"u:{rep.pk}"]
    assert graph_rebuild_task.delay().get()["referrals"] == 1  # the task beat or an operator may start


def test_a_generated_forest_projected_by_the_consumer_equals_its_rebuild(graph, card, rep, store):
    forest_grow(card=card, rep=rep, store=store, seed=11, people=50, user_factory=UserFactory)
    graph_run()
    consumed = snapshot(graph)
    referred = [row for row in consumed[1] if row[0] == "REFERRED"]
    assert len(referred) == Referral.objects.filter(card=card).count() > 30
    visitors = [end for _kind, _start, end, _props in referred]
    assert len(visitors) == len(set(visitors))  # one incoming REFERRED per visitor per card
    counts = graph_rebuild()
    assert counts["swept"] == 0
    assert snapshot(graph) == consumed
