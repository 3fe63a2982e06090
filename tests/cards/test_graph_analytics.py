"""Contract tests of the share-graph analytics: a seeded share forest made through the real services (shares,
tracking, logins, payments, the visit consumer), projected by the graph consumer, and every analytics query run on
FalkorDB (and on Neo4j when NEO4J_TEST_URL is set) must equal the PostgreSQL answer (cards/analytics_sql.py) and a
plain-Python reference computed here from the rows."""
import os
import uuid
from collections import defaultdict

import pytest
from django.conf import settings as django_settings

from cards import analytics, analytics_sql
from cards.graph import graph_backend, graph_shared_close
from cards.models import Lead, Referral, Share
from cards.services import sharing
from core.errors import ValidationFailed
from mall.models import Order
from tests.cards.conftest import track, visits_run
from tests.cards.graph_world import forest_grow, graph_run
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _backends():
    yield pytest.param(None, id="falkordb")
    if os.environ.get("NEO4J_TEST_URL"):
        yield pytest.param(os.environ["NEO4J_TEST_URL"], id="neo4j")


@pytest.fixture(params=list(_backends()))
def graph(request, settings):
    settings.GRAPH_URL = request.param or django_settings.GRAPH_URL
    settings.GRAPH_NAME = f"test_analytics_{uuid.uuid4().hex[:10]}"
    graph_shared_close()
    backend = graph_backend()
    backend.drop_all()
    yield backend
    backend.delete_graph() if hasattr(backend, "delete_graph") else backend.drop_all()
    backend.close()
    graph_shared_close()


# --- plain-Python references from the rows -------------------------------------------------------------------
def children_of(card) -> dict[str, list[str]]:
    children = defaultdict(list)
    for visitor, sharer in Referral.objects.filter(card=card).values_list("visitor_key", "share__sharer_key"):
        children[sharer].append(visitor)
    return children


def tree_reference(card, depth: int) -> list[tuple]:
    children, nodes, level = children_of(card), [], [f"u:{card.owner_id}"]
    for number in range(1, depth + 1):
        level = [(child, parent) for parent in level for child in children.get(parent, [])]
        nodes += [(child, parent, number) for child, parent in level]
        level = [child for child, _parent in level]
    return sorted(nodes, key=lambda node: (node[2], node[0]))


def levels_reference(card, depth: int) -> dict[int, tuple[int, int]]:
    forwarders = set(Share.objects.filter(card=card).values_list("sharer_key", flat=True))
    counted = defaultdict(lambda: [0, 0])
    for key, _parent, level in tree_reference(card, depth):
        counted[level][0] += 1
        counted[level][1] += key in forwarders
    return {level: tuple(pair) for level, pair in counted.items()}


def spreaders_reference(card, depth: int) -> list[tuple]:
    children = children_of(card)
    converted = set(Lead.objects.filter(card=card, converted_at__isnull=False).values_list("visitor_key", flat=True))
    rows = []
    for sharer in children:
        if sharer == f"u:{card.owner_id}":
            continue
        reached, frontier = [], [sharer]
        for _ in range(depth):
            frontier = [child for person in frontier for child in children.get(person, [])]
            reached += frontier
        rows.append((sharer, len(reached), len(children[sharer]), len(set(reached) & converted)))
    return sorted(rows, key=lambda row: (-row[1], -row[3], row[0]))


@pytest.fixture
def forest(card, rep, store):
    grown = forest_grow(card=card, rep=rep, store=store, seed=2026, people=70, user_factory=UserFactory)
    assert graph_run() > 0  # the projection is built by the consumer, not by a rebuild
    return grown


def test_every_analytics_query_on_the_graph_equals_postgresql_and_the_plain_reference(graph, forest, card):
    assert Referral.objects.filter(card=card).count() >= 50 and forest.orders and forest.users
    for depth in (1, 2, 3, 6):
        answer = analytics.tree(card=card, depth=depth, limit=2000)
        assert answer == analytics_sql.tree(card=card, depth=depth, limit=2000)
        assert [(node["key"], node["parent"], node["level"]) for node in answer["nodes"]] == tree_reference(card,
                                                                                                           depth)
        assert not answer["truncated"]
    truncated = analytics.tree(card=card, depth=3, limit=7)
    assert truncated == analytics_sql.tree(card=card, depth=3, limit=7)
    assert truncated["truncated"] and len(truncated["nodes"]) == 7
    assert [(node["key"], node["parent"], node["level"]) for node in truncated["nodes"]] == tree_reference(card, 3)[:7]

    levels = analytics.levels(card=card)
    assert levels == analytics_sql.levels(card=card)
    reference = levels_reference(card, analytics.MAX_DEPTH)
    assert {row["level"]: (row["people"], row["forwarders"]) for row in levels["levels"]} == reference
    assert levels["referred_total"] == Referral.objects.filter(card=card).count()
    assert levels["reached"] == sum(people for people, _forwarders in reference.values())
    assert levels["second_level_ratio"] == round(reference[1][1] / reference[1][0], 4)

    for depth in (1, 3, 10):
        spreaders = analytics.spreaders(card=card, depth=depth, limit=100)
        assert spreaders == analytics_sql.spreaders(card=card, depth=depth, limit=100)
        assert [(row["key"], row["reach"], row["direct"], row["conversions"]) for row in spreaders["spreaders"]] == (
            spreaders_reference(card, depth)[:100])
    assert any(row["conversions"] for row in analytics.spreaders(card=card, depth=10)["spreaders"])

    leads = list(Lead.objects.filter(card=card).select_related("card"))
    assert any(lead.converted_at for lead in leads)
    for lead in leads:
        chain = analytics.lead_chain(lead=lead)
        assert chain == analytics_sql.lead_chain(lead=lead)
        assert chain["people"][-1] == lead.visitor_key
        referral = Referral.objects.filter(card=card, visitor_key=lead.visitor_key).select_related("share").first()
        if referral is not None:  # the link just above the visitor is their referral's
            assert (chain["people"][-2], chain["links"][-1]["share"]) == (referral.share.sharer_key, referral.share_id)
        assert chain["from_rep"] == (chain["people"][0] == f"u:{card.owner_id}")

    for order_id in forest.orders:  # every order against every converted buyer: only the buyer's own attributes
        for candidate in Lead.objects.filter(card=card, converted_at__isnull=False):
            order = Order(pk=order_id, buyer_id=int(candidate.visitor_key[2:]))
            answer = analytics.order_attribution(order=order, cards=[card])
            assert answer == analytics_sql.order_attribution(order=order, cards=[card])
            for item in answer["attributions"]:
                assert sum(credit["amount"] for credit in item["credits"]) == item["amount"]
                assert [credit["person"] for credit in item["credits"]] == item["people"][:-1]
    attributed = [analytics.order_attribution(order=Order(pk=order_id, buyer_id=user.pk), cards=[card])
                  for order_id in forest.orders for user in forest.users.values()]
    assert sum(len(answer["attributions"]) for answer in attributed) == Lead.objects.filter(
        card=card, converted_at__isnull=False).count()


def test_levels_ratio_and_branching_of_a_hand_built_tree(graph, card, rep):
    """rep -> A, B; A forwards twice: C and D arrive; C forwards once (nobody opens it); B never forwards.
    二次转发率 = 1 of 2 level-1 visitors = 0.5; branching 2/1 then 2/2; overall 4 people / 3 parents."""
    root = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    for device in ("device-a-000001", "device-b-000001"):
        track(card, visitor=device, share=root, visit=f"visit-{device}")
    for number, device in enumerate(("device-c-000001", "device-d-000001")):
        forwarded = sharing.share_create(parent_id=root.pk, visitor_id="device-a-000001")
        track(card, visitor=device, share=forwarded, visit=f"visit-{number}-{device}")
    visits_run()
    sharing.share_create(parent_id=forwarded.pk, visitor_id="device-c-000001")
    visits_run()
    graph_run()
    levels = analytics.levels(card=card, depth=3)
    assert levels == analytics_sql.levels(card=card, depth=3)
    assert [(row["level"], row["people"], row["forwarders"], row["forward_ratio"], row["branching"])
            for row in levels["levels"]] == [(1, 2, 1, 0.5, 2.0), (2, 2, 1, 0.5, 1.0)]
    assert (levels["second_level_ratio"], levels["branching_factor"]) == (0.5, 1.3333)
    assert (levels["reached"], levels["referred_total"], levels["outside"]) == (4, 4, 0)
    assert analytics.tree(card=card, depth=1)["nodes"][0]["key"] in {"v:device-a-000001", "v:device-b-000001"}
    assert [row["key"] for row in analytics.spreaders(card=card)["spreaders"]] == ["v:device-a-000001"]


def test_depth_and_limits_are_bounded(graph, card):
    for call in (lambda: analytics.tree(card=card, depth=0), lambda: analytics.tree(card=card, depth=11),
                 lambda: analytics.tree(card=card, limit=2001), lambda: analytics.spreaders(card=card, limit=0),
                 lambda: analytics.levels(card=card, depth="3")):
        with pytest.raises(ValidationFailed):
            call()
    assert analytics.tree(card=card)["nodes"] == []  # a card nobody shared yet
    assert analytics.levels(card=card)["levels"] == []
