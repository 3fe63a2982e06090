"""The share graph, a projection of the card rows in PostgreSQL (Neo4j in production, FalkorDB here).

Shape (SCHEMA in cards/graph: Person.key and Card.id unique, relationship indexes on `card`):
- (:Card {id, store_id, owner_key}) for every card that has shares, referrals or conversions;
- (:Person {key}) for reps and visitors, one node per person for all cards ("u:<user id>", "v:<device id>");
- (sharer:Person)-[:SHARED {card, share, parent, depth, channel, at}]->(:Card): one per Share row (who forwarded);
- (sharer:Person)-[:REFERRED {card, share, channel, depth, at, first_at}]->(visitor:Person): one per Referral row,
  the visitor's first touch (or what CARDS_ATTRIBUTION made of it). Invariant: at most one incoming REFERRED per
  visitor per card, so each card's graph is a tree under its rep (plus chains started by people who opened the card
  without a share and forwarded it);
- (visitor:Person)-[:CONVERTED {card, lead, order, amount, at}]->(:Card): a lead that paid (the Lead and conversion
  link: its lead id, the order that converted it, the amount and when).
Person nodes are global and relationships carry their card: a person is one node whatever they touched, a device
that logs in becomes its user in one place, and every query starts from a node found by its key (the rep, a
visitor) and follows only that card's relationships, so a card's traversal never scans another card's tree.

How it stays equal to PostgreSQL. The events only say what changed; the rows say what is. The batch consumer
`cards.graph` (cards/events.py) runs outside any database transaction and, for each batch:
1. applies device merges (`visitor_merged`) in the graph itself: the device's SHARED, outgoing REFERRED and
   CONVERTED relationships move to the user, then the device's node goes (its incoming REFERRED are re-recorded as
   `card_referral_bound` by the visit consumer, or were dropped there because the user's own first touch is older);
2. syncs, from the current rows, every share (`card_shared`), every (card, visitor) referral (`card_referral_bound`,
   with what it replaced) and every converted lead (`lead_converted`) the batch names, with batched (UNWIND),
   idempotent MERGEs: the visitor's incoming REFERRED for the card that disagree with the row are deleted first, so
   the invariant holds after every statement.
Replaying a batch (a crash between the graph write and the cursor), events out of order, or syncing rows that later
events change again all converge on the rows. If the graph is down the batch fails, the cursor stays and the next run
starts from the same place: nothing is lost or doubled. `graph_rebuild` (manage.py graph_rebuild, the Celery task)
runs the same syncs over every row while the consumer is paused, stamping what it writes, then sweeps away whatever
it did not stamp: the graph keeps answering during a rebuild and ends equal to what the consumer builds.
"""
import uuid
from collections.abc import Iterable, Iterator
from decimal import Decimal

from cards.graph import SCHEMA, GraphBackend, graph_backend
from cards.models import BusinessCard, Lead, Referral, Share
from core.events import consumer_paused
from core.models import BehaviourEvent

CONSUMER = "cards.graph"
SWEEP_BATCH = 10_000

_CARDS = ("UNWIND $rows AS row MERGE (c:Card {id: row.id}) "
          "SET c.store_id = row.store_id, c.owner_key = row.owner_key, c.stamp = $stamp")
_SHARES = ("UNWIND $rows AS row MATCH (c:Card {id: row.card}) MERGE (p:Person {key: row.sharer}) "
           "MERGE (p)-[s:SHARED {share: row.share}]->(c) "
           "SET s.card = row.card, s.parent = row.parent, s.depth = row.depth, s.channel = row.channel, "
           "s.at = row.at, s.stamp = $stamp")
# A visitor's incoming REFERRED for the card that the row does not say (another sharer, or no referral at all).
# (The visitor is bound first: FalkorDB's planner would otherwise start from every Person and the card's index.)
_REFERRED_DROP = ("UNWIND $rows AS row MATCH (v:Person {key: row.visitor}) WITH row, v "
                  "MATCH (s)-[r:REFERRED]->(v) WHERE r.card = row.card AND (row.sharer IS NULL OR s.key <> row.sharer) "
                  "DELETE r")
_REFERRED = ("UNWIND $rows AS row MERGE (s:Person {key: row.sharer}) MERGE (v:Person {key: row.visitor}) "
             "MERGE (s)-[r:REFERRED {card: row.card}]->(v) "
             "SET r.share = row.share, r.channel = row.channel, r.depth = row.depth, r.at = row.at, "
             "r.first_at = row.first_at, r.stamp = $stamp")
_CONVERTED = ("UNWIND $rows AS row MATCH (c:Card {id: row.card}) MERGE (v:Person {key: row.visitor}) "
              "MERGE (v)-[x:CONVERTED {lead: row.lead}]->(c) "
              "SET x.card = row.card, x.order = row.order, x.amount = row.amount, x.at = row.at, x.stamp = $stamp")
_ORPHANS = "UNWIND $keys AS key MATCH (p:Person {key: key}) WHERE NOT (p)--() DELETE p"
# A device that logged in: what it did moves to its user (merges are rare: one statement per kind of relationship).
_MERGE_SHARED = ("UNWIND $rows AS row MATCH (old:Person {key: row.from})-[s:SHARED]->(c:Card) "
                 "MERGE (new:Person {key: row.to}) MERGE (new)-[n:SHARED {share: s.share}]->(c) "
                 "SET n.card = s.card, n.parent = s.parent, n.depth = s.depth, n.channel = s.channel, n.at = s.at, "
                 "n.stamp = s.stamp DELETE s")
_MERGE_REFERRED = ("UNWIND $rows AS row MATCH (old:Person {key: row.from})-[r:REFERRED]->(v:Person) "
                   "MERGE (new:Person {key: row.to}) MERGE (new)-[n:REFERRED {card: r.card}]->(v) "
                   "SET n.share = r.share, n.channel = r.channel, n.depth = r.depth, n.at = r.at, "
                   "n.first_at = r.first_at, n.stamp = r.stamp DELETE r")
_MERGE_CONVERTED = ("UNWIND $rows AS row MATCH (old:Person {key: row.from})-[x:CONVERTED]->(c:Card) "
                    "MERGE (new:Person {key: row.to}) MERGE (new)-[n:CONVERTED {lead: x.lead}]->(c) "
                    "SET n.card = x.card, n.order = x.order, n.amount = x.amount, n.at = x.at, n.stamp = x.stamp "
                    "DELETE x")
_MERGE_DROP = "UNWIND $rows AS row MATCH (old:Person {key: row.from}) DETACH DELETE old"


def _at(value) -> str | None:
    return value.isoformat() if value is not None else None


def _chunks(rows: list, size: int) -> Iterator[list]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


# --- syncs: rows -> graph (the consumer's and the rebuild's one way of writing) ------------------------------------
def cards_sync(graph: GraphBackend, card_ids: Iterable[int], *, stamp: str | None = None) -> int:
    rows = [{"id": pk, "store_id": store_id, "owner_key": f"u:{owner_id}"} for pk, store_id, owner_id
            in BusinessCard.objects.filter(pk__in=set(card_ids)).values_list("pk", "store_id", "owner_id")]
    if rows:
        graph.run(_CARDS, {"rows": rows, "stamp": stamp})
    return len(rows)


def _share_row(share: dict) -> dict:
    return {"share": share["id"], "card": share["card_id"], "sharer": share["sharer_key"], "parent": share["parent_id"],
            "depth": share["depth"], "channel": share["channel"], "at": _at(share["created_at"])}


SHARE_FIELDS = ("id", "card_id", "sharer_key", "parent_id", "depth", "channel", "created_at")


def shares_sync(graph: GraphBackend, share_rows: list[dict], *, stamp: str | None = None) -> int:
    """SHARED relationships of these Share rows (their cards' nodes must exist)."""
    if share_rows:
        graph.run(_SHARES, {"rows": [_share_row(share) for share in share_rows], "stamp": stamp})
    return len(share_rows)


REFERRAL_FIELDS = ("card_id", "visitor_key", "share_id", "share__sharer_key", "share__channel", "share__depth",
                   "bound_at", "first_at")


def _referral_row(referral: dict) -> dict:
    return {"card": referral["card_id"], "visitor": referral["visitor_key"], "sharer": referral["share__sharer_key"],
            "share": referral["share_id"], "channel": referral["share__channel"], "depth": referral["share__depth"],
            "at": _at(referral["bound_at"]), "first_at": _at(referral["first_at"])}


def referrals_sync(graph: GraphBackend, pairs: Iterable[tuple[int, str]], referral_rows: list[dict], *,
                   stamp: str | None = None) -> int:
    """Make each (card, visitor) pair's incoming REFERRED what its Referral row says: the one from the row's sharer,
    or none when the pair has no row (any more)."""
    rows = {(row["card_id"], row["visitor_key"]): _referral_row(row) for row in referral_rows}
    gone = [{"card": card_id, "visitor": key, "sharer": None} for card_id, key in set(pairs) - set(rows)]
    present = list(rows.values())
    graph.run(_REFERRED_DROP, {"rows": present + gone})
    if present:
        graph.run(_REFERRED, {"rows": present, "stamp": stamp})
    if gone:
        graph.run(_ORPHANS, {"keys": sorted({row["visitor"] for row in gone})})
    return len(present)


def conversions_sync(graph: GraphBackend, leads: list[dict], orders: dict[int, dict], *,
                     stamp: str | None = None) -> int:
    """CONVERTED links of converted leads; the order and amount come from their `lead_converted` event."""
    rows = [{"lead": lead["id"], "card": lead["card_id"], "visitor": lead["visitor_key"],
             "at": _at(lead["converted_at"]), "order": orders.get(lead["id"], {}).get("order_id"),
             "amount": _amount(orders.get(lead["id"], {}).get("amount"))} for lead in leads]
    if rows:
        graph.run(_CONVERTED, {"rows": rows, "stamp": stamp})
    return len(rows)


def _amount(value) -> str | None:
    return None if value is None else str(Decimal(str(value)).quantize(Decimal("0.01")))


def merges_apply(graph: GraphBackend, merges: list[tuple[str, str]]) -> None:
    rows = [{"from": old, "to": new} for old, new in merges]
    for statement in (_MERGE_SHARED, _MERGE_REFERRED, _MERGE_CONVERTED, _MERGE_DROP):
        graph.run(statement, {"rows": rows})


def _referral_rows(pairs: set[tuple[int, str]]) -> list[dict]:
    if not pairs:
        return []
    candidates = Referral.objects.filter(card_id__in={card for card, _key in pairs},
                                         visitor_key__in={key for _card, key in pairs}).values(*REFERRAL_FIELDS)
    return [row for row in candidates if (row["card_id"], row["visitor_key"]) in pairs]


def _conversion_orders(lead_ids: Iterable[int]) -> dict[int, dict]:
    """The order and amount of each lead's conversion, from its `lead_converted` event (the Lead row keeps only
    when it converted)."""
    events = BehaviourEvent.objects.filter(kind="lead_converted", object_type="cards.lead",
                                           object_id__in=[str(pk) for pk in lead_ids]).order_by("pk")
    return {event.payload["lead_id"]: event.payload for event in events.only("payload")}


# --- the batch consumer ------------------------------------------------------------------------------------------
def graph_events_project(*, events: list[BehaviourEvent]) -> None:
    """Project one batch of card events (the consumer `cards.graph`, outside any transaction)."""
    merges = [(event.payload["from_key"], event.payload["to_key"]) for event in events
              if event.kind == "visitor_merged"]
    share_ids = {event.payload["share_id"] for event in events if event.kind == "card_shared"}
    pairs = {(event.payload["card_id"], event.payload["visitor_key"]) for event in events
             if event.kind == "card_referral_bound"}
    converted = {event.payload["lead_id"]: event.payload for event in events if event.kind == "lead_converted"}
    shares = list(Share.objects.filter(pk__in=share_ids).values(*SHARE_FIELDS))
    referrals = _referral_rows(pairs)
    leads = list(Lead.objects.filter(pk__in=list(converted), converted_at__isnull=False)
                 .values("id", "card_id", "visitor_key", "converted_at"))
    card_ids = ({share["card_id"] for share in shares} | {card for card, _key in pairs}
                | {lead["card_id"] for lead in leads})
    with graph_backend() as graph:
        graph.ensure_schema(SCHEMA)
        if merges:
            merges_apply(graph, merges)
        cards_sync(graph, card_ids)
        shares_sync(graph, shares)
        if pairs:
            referrals_sync(graph, pairs, referrals)
        conversions_sync(graph, leads, converted)


# --- the rebuild -------------------------------------------------------------------------------------------------
def graph_rebuild(*, batch_size: int = 5000) -> dict[str, int]:
    """Build the projection again from the PostgreSQL rows, in place: every card, share, referral and converted
    lead is written with a fresh stamp, then relationships and nodes without it are swept away. The consumer is
    paused meanwhile (it catches up afterwards: its syncs are idempotent)."""
    stamp = uuid.uuid4().hex
    counts = {"cards": 0, "shares": 0, "referrals": 0, "conversions": 0, "swept": 0}
    with consumer_paused(name=CONSUMER, timeout=300), graph_backend() as graph:
        graph.ensure_schema(SCHEMA)
        card_ids = (set(Share.objects.values_list("card_id", flat=True).distinct())
                    | set(Referral.objects.values_list("card_id", flat=True).distinct())
                    | set(Lead.objects.filter(converted_at__isnull=False).values_list("card_id", flat=True)))
        for chunk in _chunks(sorted(card_ids), batch_size):
            counts["cards"] += cards_sync(graph, chunk, stamp=stamp)
        shares = Share.objects.order_by("pk").values(*SHARE_FIELDS).iterator(chunk_size=batch_size)
        for chunk in _chunks_of(shares, batch_size):
            counts["shares"] += shares_sync(graph, chunk, stamp=stamp)
        referrals = Referral.objects.order_by("pk").values(*REFERRAL_FIELDS).iterator(chunk_size=batch_size)
        for chunk in _chunks_of(referrals, batch_size):
            pairs = {(row["card_id"], row["visitor_key"]) for row in chunk}
            counts["referrals"] += referrals_sync(graph, pairs, chunk, stamp=stamp)
        leads = list(Lead.objects.filter(converted_at__isnull=False).order_by("pk")
                     .values("id", "card_id", "visitor_key", "converted_at"))
        for chunk in _chunks(leads, batch_size):
            orders = _conversion_orders(lead["id"] for lead in chunk)
            counts["conversions"] += conversions_sync(graph, chunk, orders, stamp=stamp)
        counts["swept"] = _sweep(graph, stamp)
    return counts


def _chunks_of(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sweep(graph: GraphBackend, stamp: str) -> int:
    """Delete what the rebuild did not write: relationships, then the nodes left without any."""
    swept = 0
    statements = [f"MATCH ()-[r:{kind}]->() WHERE r.stamp IS NULL OR r.stamp <> $stamp "
                  f"WITH r LIMIT {SWEEP_BATCH} DELETE r RETURN count(*) AS n"
                  for kind in ("REFERRED", "SHARED", "CONVERTED")]
    statements += [f"MATCH (n:{label}) WHERE NOT (n)--() WITH n LIMIT {SWEEP_BATCH} DELETE n RETURN count(*) AS n"
                   for label in ("Person", "Card")]
    for statement in statements:
        while deleted := graph.run(statement, {"stamp": stamp})[0]["n"]:
            swept += deleted
    return swept
