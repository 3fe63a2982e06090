"""The share graph, a projection of the card events in PostgreSQL (Neo4j in production, FalkorDB here).

Written by the batch consumer `cards.graph` (cards/events.py) outside any database transaction, with batched,
idempotent MERGEs (UNWIND): replaying a batch changes nothing. If the graph is down the consumer's batch fails, its
cursor does not move, and it catches up from the same place when the graph is back: nothing is lost or doubled.
`manage.py graph_rebuild` rebuilds the whole projection from the PostgreSQL rows (shares, referrals, conversions).

Shape:
- (:Card {id, store_id, owner_key}), (:Person {key}) for reps and visitors ("u:<user id>" or "v:<device id>");
- (sharer:Person)-[:REFERRED {card, share, channel, at, depth}]->(visitor:Person): who brought whom to a card.
  Invariant: at most one incoming REFERRED per visitor per card, so each card's graph is a tree;
- (visitor:Person)-[:CONVERTED {card, lead, order, amount, at}]->(:Card): a lead that paid.
"""
from collections.abc import Iterable

from cards.graph import SCHEMA, graph_backend
from cards.models import BusinessCard, Lead, Referral
from core.models import BehaviourEvent

_CARDS = ("UNWIND $rows AS row MERGE (c:Card {id: row.id}) SET c.store_id = row.store_id, "
          "c.owner_key = row.owner_key MERGE (o:Person {key: row.owner_key})")
_SHARERS = "UNWIND $rows AS row MERGE (:Person {key: row.key})"
# The visitor's previous referrer for the card (first touch moved, or a device merged into its user) loses its edge
# before the new one is made: one incoming REFERRED per visitor per card.
_DROP_REFERRED = ("UNWIND $rows AS row MATCH (:Person)-[r:REFERRED {card: row.card}]->(v:Person) "
                  "WHERE v.key IN [row.visitor, row.replaced] DELETE r")
_REFERRED = ("UNWIND $rows AS row MERGE (s:Person {key: row.sharer}) MERGE (v:Person {key: row.visitor}) "
             "MERGE (s)-[r:REFERRED {card: row.card}]->(v) "
             "SET r.share = row.share, r.channel = row.channel, r.depth = row.depth, r.at = row.at")
_MOVE_OUT = ("UNWIND $rows AS row MATCH (old:Person {key: row.from})-[r:REFERRED]->(v:Person) "
             "MERGE (new:Person {key: row.to}) MERGE (new)-[n:REFERRED {card: r.card}]->(v) "
             "SET n.share = r.share, n.channel = r.channel, n.depth = r.depth, n.at = r.at DELETE r")
_DROP_PERSON = "UNWIND $rows AS row MATCH (p:Person {key: row.from}) DETACH DELETE p"
_CONVERTED = ("UNWIND $rows AS row MERGE (v:Person {key: row.visitor}) MERGE (c:Card {id: row.card}) "
              "MERGE (v)-[x:CONVERTED {lead: row.lead}]->(c) "
              "SET x.card = row.card, x.order = row.order, x.amount = row.amount, x.at = row.at")


def _card_rows(card_ids: Iterable[int]) -> list[dict]:
    return [{"id": card.pk, "store_id": card.store_id, "owner_key": f"u:{card.owner_id}"}
            for card in BusinessCard.objects.filter(pk__in=set(card_ids))]


def graph_events_project(*, events: list[BehaviourEvent]) -> None:
    """Project one batch of card events, in commit order, kind by kind where order does not matter."""
    shared = [event for event in events if event.kind == "card_shared"]
    bound = [event for event in events if event.kind == "card_referral_bound"]
    merged = [event for event in events if event.kind == "visitor_merged"]
    converted = [event for event in events if event.kind == "lead_converted"]
    with graph_backend() as graph:
        graph.ensure_schema(SCHEMA)
        card_ids = {int(event.object_id) for event in shared} | {event.payload["card_id"] for event in bound}
        if card_ids:
            graph.run(_CARDS, {"rows": _card_rows(card_ids)})
        if shared:
            graph.run(_SHARERS, {"rows": [{"key": event.payload["sharer_key"]} for event in shared]})
        for event in merged:  # rare; in order, before the referrals the merge re-bound
            row = {"from": event.payload["from_key"], "to": event.payload["to_key"]}
            graph.run(_MOVE_OUT, {"rows": [row]})
            graph.run(_DROP_PERSON, {"rows": [row]})
        if bound:
            rows = [{"card": event.payload["card_id"], "visitor": event.payload["visitor_key"],
                     "sharer": event.payload["sharer_key"], "share": event.payload["share_id"],
                     "channel": event.payload["channel"], "depth": event.payload["depth"],
                     "replaced": event.payload["replaced"] or "", "at": event.created_at.isoformat()}
                    for event in bound]
            graph.run(_DROP_REFERRED, {"rows": rows})
            graph.run(_REFERRED, {"rows": rows})
        if converted:
            graph.run(_CONVERTED, {"rows": [
                {"visitor": event.payload["visitor_key"], "card": event.payload["card_id"],
                 "lead": event.payload["lead_id"], "order": event.payload["order_id"],
                 "amount": str(event.payload["amount"]), "at": event.created_at.isoformat()} for event in converted]})


def graph_rebuild(*, batch_size: int = 2000) -> dict[str, int]:
    """Drop the projection and build it again from PostgreSQL: cards, referrals (the current first touch of every
    visitor) and converted leads."""
    counts = {"cards": 0, "referred": 0, "converted": 0}
    with graph_backend() as graph:
        graph.drop_all()
        graph.ensure_schema(SCHEMA)
        cards = list(BusinessCard.objects.values_list("pk", flat=True))
        for start in range(0, len(cards), batch_size):
            graph.run(_CARDS, {"rows": _card_rows(cards[start:start + batch_size])})
        counts["cards"] = len(cards)
        referrals = Referral.objects.select_related("share").order_by("pk").iterator(chunk_size=batch_size)
        batch: list[dict] = []
        for referral in referrals:
            share = referral.share
            batch.append({"card": referral.card_id, "visitor": referral.visitor_key, "sharer": share.sharer_key,
                          "share": share.pk, "channel": share.channel, "depth": share.depth,
                          "at": referral.bound_at.isoformat()})
            if len(batch) >= batch_size:
                graph.run(_REFERRED, {"rows": batch})
                counts["referred"] += len(batch)
                batch = []
        if batch:
            graph.run(_REFERRED, {"rows": batch})
            counts["referred"] += len(batch)
        leads = Lead.objects.filter(converted_at__isnull=False).values_list("pk", "visitor_key", "card_id",
                                                                            "converted_at")
        rows = [{"visitor": key, "card": card_id, "lead": lead_id, "order": None, "amount": None,
                 "at": at.isoformat()} for lead_id, key, card_id, at in leads]
        for start in range(0, len(rows), batch_size):
            graph.run(_CONVERTED, {"rows": rows[start:start + batch_size]})
        counts["converted"] = len(rows)
    return counts
