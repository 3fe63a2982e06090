"""Helpers of the share-graph tests: a graph of the test's own, the projection consumer run as beat would, a
snapshot of the whole graph to compare, and a seeded share forest made through the real services."""
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from cards.events import GRAPH
from cards.graph import graph_backend, graph_shared_close
from cards.models import Lead
from cards.services import sharing
from core.events import consumer_run, record_event
from mall.models import StoreStaff
from tests.cards.conftest import track, visits_run
from tests.factories import (
    AddressFactory,
    ListingFactory,
    ProductFactory,
    ShippingRateFactory,
    SKUFactory,
    StoreFactory,
    SupplierFactory,
    UserFactory,
)
from tests.mall.conftest import pay, place

DEVICE = "device-api-000001"
RELATIONSHIPS = ("MATCH (a)-[r]->(b) RETURN type(r) AS type, a.key AS start, coalesce(b.key, b.id) AS end, "
                 "properties(r) AS props")
NODES = "MATCH (n) RETURN labels(n)[0] AS label, properties(n) AS props"


@pytest.fixture(name="graph")
def fresh_graph(settings):
    """Point the projection and the analytics at a fresh graph on the test's FalkorDB, dropped afterwards."""
    settings.GRAPH_NAME = f"test_graph_{uuid.uuid4().hex[:10]}"
    graph_shared_close()
    backend = graph_backend()
    yield backend
    backend.delete_graph() if hasattr(backend, "delete_graph") else backend.drop_all()
    backend.close()
    graph_shared_close()


def graph_run() -> int:
    """Run the projection consumer until it has caught up (outside any transaction, as beat runs it)."""
    return consumer_run(name=GRAPH)


def snapshot(backend) -> tuple[list, list]:
    """Every node and relationship with its properties (the rebuild's `stamp` left out), sorted."""
    def plain(props: dict) -> tuple:
        return tuple(sorted((key, value) for key, value in props.items() if key != "stamp"))

    nodes = sorted((row["label"], plain(row["props"])) for row in backend.run(NODES))
    relationships = sorted((row["type"], row["start"], row["end"], plain(row["props"]))
                           for row in backend.run(RELATIONSHIPS))
    return nodes, relationships


@dataclass
class Forest:
    """What the generator made: the shares, the people by device id, the logged-in ones, the paying ones."""

    shares: list = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    users: dict[str, object] = field(default_factory=dict)
    orders: list[int] = field(default_factory=list)


def forest_grow(*, card, rep, store, seed: int, roots: int = 4, people: int = 60, forward: float = 0.45,
                login: float = 0.2, pay: float = 0.25, user_factory=None) -> Forest:
    """A seeded branching process through the real services: the rep makes `roots` shares; each new visitor opens
    a random earlier share (the newest ones more likely), may forward it once or twice (a share under the one they
    came through), may log in (their device's rows move to their account) and, logged in, may pay an order in the
    store. Visits and referrals come from the visit consumer, as in production."""
    rng = random.Random(seed)
    forest = Forest()
    for _ in range(roots):
        forest.shares.append(sharing.share_create(card_id=card.pk, user_id=rep.pk,
                                                  channel=rng.choice(["moments", "group", "poster"])))
    for number in range(people):
        device = f"forest-{seed}-{number:04d}"
        forest.devices.append(device)
        came_through = forest.shares[min(int(rng.expovariate(1 / 6)), len(forest.shares) - 1) * -1 - 1]
        sharing.card_track(visit_id=f"visit-{device}", action="view_card", share_id=came_through.pk,
                           visitor_id=device)
        for _ in range(rng.choice([1, 1, 2]) if rng.random() < forward else 0):
            forest.shares.append(sharing.share_create(parent_id=came_through.pk, visitor_id=device,
                                                      channel=rng.choice(["friend", "friend", "group", "moments"])))
        if number % 10 == 9:
            visits_run()  # the consumer runs every few seconds: visitors arrive over several batches
        if rng.random() < login:
            user = user_factory()
            forest.users[device] = user
            visits_run()
            sharing.visitor_identify(user=user, visitor_id=device)
            if rng.random() < pay / login * 0.5:
                visits_run()
                order_id = 900_000 + number
                record_event(kind="order_paid", actor=user, object_type="mall.order", object_id=order_id,
                             payload={"total": Decimal(f"{rng.randint(20, 400)}.{rng.randint(0, 99):02d}"),
                                      "store_id": store.pk, "kind": "normal", "lines": []})
                forest.orders.append(order_id)
    visits_run()
    return forest


@pytest.fixture(name="world")
def paid_world(graph, card, rep, store):
    """The rep's share reached a device, which forwarded to a customer who paid an order in the store."""
    root = sharing.share_create(card_id=card.pk, user_id=rep.pk, channel="moments")
    track(card, visitor=DEVICE, share=root, visit="visit-api-0001")
    forwarded = sharing.share_create(parent_id=root.pk, visitor_id=DEVICE, channel="group")
    buyer = UserFactory(nickname="买家小李")
    track(card, user=buyer, share=forwarded, visit="visit-api-0002")
    visits_run()
    supplier = SupplierFactory()
    rate = ShippingRateFactory(template__supplier=supplier)
    listing = ListingFactory(store=store, price=Decimal("50.00"), sku=SKUFactory(
        product=ProductFactory(supplier=supplier, shipping_template=rate.template)))
    order = pay(place(buyer, AddressFactory(user=buyer), listing, key="graph-api-order-1"))
    visits_run()  # the payment converts the buyer's lead
    graph_run()
    manager = UserFactory(role="merchant_staff")
    StoreStaff.objects.create(store=store, user=manager, role=StoreStaff.Role.MANAGER)
    other_rep = UserFactory(role="merchant_staff")
    other_store = StoreFactory()
    StoreStaff.objects.create(store=other_store, user=other_rep, role=StoreStaff.Role.SALES_REP)
    return {"order": order, "buyer": buyer, "manager": manager, "other_rep": other_rep,
            "lead": Lead.objects.get(visitor_key=f"u:{buyer.pk}")}
