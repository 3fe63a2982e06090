"""The share-graph questions of cards/analytics.py answered from PostgreSQL, with the same arguments and the same
answers: the reference the graph contract tests compare with, and the baseline of bench/cards_graph.py.

The tree and the levels are recursive CTEs over the rows the graph is projected from (a visitor's referral names
the share that brought them; the share names its sharer), written the way one would without a graph: each level
joins the previous level's people to their shares of the card (index `share_sharer_idx`: sharer_key, card) and
those shares to the referrals they brought (the index on `cards_referral.share_id`). The other questions load one
card's referral rows (one indexed query) and walk them in Python.
"""
from collections import defaultdict, deque

from django.db import connection

from cards.analytics import (
    DEFAULT_DEPTH,
    DEFAULT_NODES,
    DEFAULT_SPREADERS,
    MAX_CHAIN,
    MAX_DEPTH,
    _bounded,
    _money,
    credits_split,
    levels_summary,
)
from cards.models import BusinessCard, Lead, Referral
from core.models import BehaviourEvent
from mall.models import Order

_TREE_STEPS = """
WITH RECURSIVE tree (visitor_key, parent_key, level, share_id, channel, bound_at) AS (
    SELECT r.visitor_key, s.sharer_key, 1, s.id, s.channel, r.bound_at
    FROM cards_share s JOIN cards_referral r ON r.share_id = s.id
    WHERE s.card_id = %(card)s AND s.sharer_key = %(root)s
  UNION ALL
    SELECT r.visitor_key, s.sharer_key, t.level + 1, s.id, s.channel, r.bound_at
    FROM tree t
    JOIN cards_share s ON s.card_id = %(card)s AND s.sharer_key = t.visitor_key
    JOIN cards_referral r ON r.share_id = s.id
    WHERE t.level < %(depth)s
)
"""
TREE_SQL = _TREE_STEPS + """
SELECT visitor_key, parent_key, level, share_id, channel, bound_at FROM tree
ORDER BY level, visitor_key LIMIT %(limit)s
"""
LEVELS_SQL = _TREE_STEPS + """
SELECT t.level, count(*),
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM cards_share f
                                      WHERE f.card_id = %(card)s AND f.sharer_key = t.visitor_key))
FROM tree t GROUP BY t.level ORDER BY t.level
"""  # noqa: S608 (constant text; the values are parameters)


def tree(*, card: BusinessCard, depth: int = DEFAULT_DEPTH, limit: int = DEFAULT_NODES) -> dict:
    depth = _bounded(depth, low=1, high=MAX_DEPTH, name="depth")
    root = f"u:{card.owner_id}"
    with connection.cursor() as cursor:
        cursor.execute(TREE_SQL, {"card": card.pk, "root": root, "depth": depth, "limit": limit + 1})
        rows = cursor.fetchall()
    nodes = [{"key": key, "parent": parent, "level": level, "share": share, "channel": channel,
              "at": at.isoformat()} for key, parent, level, share, channel, at in rows[:limit]]
    return {"card_id": card.pk, "root": root, "depth": depth, "limit": limit, "truncated": len(rows) > limit,
            "nodes": nodes}


def levels(*, card: BusinessCard, depth: int = MAX_DEPTH) -> dict:
    depth = _bounded(depth, low=1, high=MAX_DEPTH, name="depth")
    with connection.cursor() as cursor:
        cursor.execute(LEVELS_SQL, {"card": card.pk, "root": f"u:{card.owner_id}", "depth": depth})
        per_level = {level: (people, forwarders) for level, people, forwarders in cursor.fetchall()}
    total = Referral.objects.filter(card=card).count()
    return levels_summary(card_id=card.pk, depth=depth, referred_total=total, per_level=per_level)


# --- the rest, walked in Python over one card's rows ---------------------------------------------------------------
def _referrals_of(card_id: int) -> dict[str, dict]:
    """visitor key -> the link that brought them: sharer, share, channel, depth, time."""
    rows = Referral.objects.filter(card_id=card_id).values_list(
        "visitor_key", "share__sharer_key", "share_id", "share__channel", "share__depth", "bound_at")
    return {visitor: {"sharer": sharer, "share": share, "channel": channel, "depth": depth, "at": at.isoformat()}
            for visitor, sharer, share, channel, depth, at in rows}


def _children_of(referrals: dict[str, dict]) -> dict[str, list[str]]:
    children: dict[str, list[str]] = defaultdict(list)
    for visitor, link in referrals.items():
        children[link["sharer"]].append(visitor)
    return children


def spreaders(*, card: BusinessCard, depth: int = DEFAULT_DEPTH, limit: int = DEFAULT_SPREADERS) -> dict:
    depth = _bounded(depth, low=1, high=MAX_DEPTH, name="depth")
    children = _children_of(_referrals_of(card.pk))
    converted = set(Lead.objects.filter(card=card, converted_at__isnull=False).values_list("visitor_key", flat=True))
    rows = []
    for sharer in children:
        if sharer == f"u:{card.owner_id}":
            continue
        reached, frontier, seen = [], deque([(sharer, 0)]), {sharer}
        while frontier:
            person, hops = frontier.popleft()
            if hops == depth:
                continue
            for child in children.get(person, []):
                if child not in seen:  # a chain that loops back (two devices of one person) is walked once
                    seen.add(child)
                    reached.append(child)
                    frontier.append((child, hops + 1))
        rows.append({"key": sharer, "reach": len(reached), "direct": len(children[sharer]),
                     "conversions": sum(1 for person in reached if person in converted)})
    rows.sort(key=lambda row: (-row["reach"], -row["conversions"], row["key"]))
    return {"card_id": card.pk, "depth": depth, "spreaders": rows[:limit]}


def _chain_up(referrals: dict[str, dict], visitor: str) -> dict:
    people, links, seen = [visitor], [], {visitor}
    while len(links) < MAX_CHAIN and (link := referrals.get(people[-1])) is not None and link["sharer"] not in seen:
        links.append({"share": link["share"], "channel": link["channel"], "depth": link["depth"], "at": link["at"]})
        people.append(link["sharer"])
        seen.add(link["sharer"])
    return {"people": list(reversed(people)), "links": list(reversed(links))}


def _conversions(lead_ids: list[int]) -> dict[int, dict]:
    events = BehaviourEvent.objects.filter(kind="lead_converted", object_type="cards.lead",
                                           object_id__in=[str(pk) for pk in lead_ids]).order_by("pk")
    return {event.payload["lead_id"]: event.payload for event in events}


def lead_chain(*, lead: Lead) -> dict:
    chain = _chain_up(_referrals_of(lead.card_id), lead.visitor_key)
    converted = _conversions([lead.pk]).get(lead.pk) if lead.converted_at else None
    return {"lead_id": lead.pk, "card_id": lead.card_id, **chain,
            "from_rep": chain["people"][0] == f"u:{lead.card.owner_id}",
            "order_id": converted["order_id"] if converted else None,
            "amount": _money(converted["amount"]) if converted else None,
            "converted_at": lead.converted_at.isoformat() if converted else None}


def order_attribution(*, order: Order, cards: list[BusinessCard]) -> dict:
    buyer = f"u:{order.buyer_id}"
    owners = {card.pk: f"u:{card.owner_id}" for card in cards}
    leads = {lead.pk: lead for lead in Lead.objects.filter(card_id__in=owners, visitor_key=buyer,
                                                           converted_at__isnull=False)}
    attributions = []
    for lead_id, payload in sorted(_conversions(list(leads)).items(), key=lambda item: leads[item[0]].card_id):
        if payload["order_id"] != order.pk:
            continue
        lead = leads[lead_id]
        chain = _chain_up(_referrals_of(lead.card_id), buyer)
        amount = _money(payload["amount"])
        attributions.append({"card_id": lead.card_id, "lead_id": lead_id, "amount": amount,
                             "converted_at": lead.converted_at.isoformat(), **chain,
                             "from_rep": chain["people"][0] == owners[lead.card_id],
                             "credits": credits_split(amount, chain["people"][:-1])})
    return {"order_id": order.pk, "buyer": buyer, "attributions": attributions}
