"""Share-graph analytics: each question is ONE Cypher query through the graph port (cards/graph), the same text on
FalkorDB and Neo4j. cards/analytics_sql.py answers the same questions from PostgreSQL (the reference the contract
tests compare with, and the recursive-CTE baseline of bench/cards_graph.py).

Every traversal is bounded twice: in depth (the variable-length pattern's upper bound, at most MAX_DEPTH hops from
the rep, MAX_CHAIN hops up from a visitor) and in what comes back (LIMIT, at most MAX_NODES nodes or MAX_SPREADERS
rows). Depth is written into the query text (Cypher takes no parameter there), always an int checked here.

Who may ask is decided before any query: a rep reads their own cards, a store's manager (or owner) the store's
(`card_for_viewer`, `lead_visible`, `order_for_viewer`); anything else is a 404.
"""
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from cards.graph import GraphUnavailable, graph_shared
from cards.models import BusinessCard, Lead
from cards.services.leads import lead_visible, store_manager_of
from core.errors import NotFound, ServiceUnavailable, ValidationFailed
from mall.models import Order, Store, StoreStaff

DEFAULT_DEPTH = 3
MAX_DEPTH = 10
DEFAULT_NODES = 500
MAX_NODES = 2000
DEFAULT_SPREADERS = 20
MAX_SPREADERS = 100
MAX_CHAIN = 50  # hops walked up from a visitor: far beyond any real chain (the demo's deepest is about 15)
CENTS = Decimal("0.01")

# The tree under the rep to `depth` levels, breadth first (every level before the next, by key within a level), at
# most $limit nodes: what is returned is always a connected top of the tree.
TREE = ("MATCH (root:Person {{key: $root}}) "
        "MATCH p = (root)-[:REFERRED*1..{depth} {{card: $card}}]->(v:Person) "
        "WITH v, length(p) AS level, relationships(p)[-1] AS r, nodes(p)[-2] AS parent "
        "RETURN v.key AS key, parent.key AS parent, level, r.share AS share, r.channel AS channel, r.at AS at "
        "ORDER BY level, key LIMIT $limit")
# People per level of the rep's tree, how many of them forwarded the card (made a share of it), and the card's
# referrals in all (the people not under the rep within `depth`: deeper, or in chains that started elsewhere).
LEVELS = ("MATCH ()-[x:REFERRED {{card: $card}}]->() WITH count(x) AS total "
          "OPTIONAL MATCH p = (:Person {{key: $root}})-[:REFERRED*1..{depth} {{card: $card}}]->(v:Person) "
          "WITH total, length(p) AS level, v "
          "OPTIONAL MATCH (v)-[s:SHARED {{card: $card}}]->(:Card) "
          "WITH total, level, v, count(s) AS shares "
          "RETURN total, level, count(v) AS people, count(CASE WHEN shares > 0 THEN 1 END) AS forwarders "
          "ORDER BY level")
# Everyone but the rep who brought somebody to the card: how many people they reached within `depth` hops, how
# many directly, and how many of those converted.
SPREADERS = ("MATCH ()-[r:REFERRED {{card: $card}}]->() WITH DISTINCT startNode(r) AS s WHERE s.key <> $root "
             "MATCH p = (s)-[:REFERRED*1..{depth} {{card: $card}}]->(v:Person) "
             "WITH s, v, length(p) AS hops "
             "OPTIONAL MATCH (v)-[x:CONVERTED {{card: $card}}]->(:Card) "
             "RETURN s.key AS key, count(v) AS reach, count(CASE WHEN hops = 1 THEN 1 END) AS direct, "
             "count(x) AS conversions ORDER BY reach DESC, conversions DESC, key LIMIT $limit")
# A visitor's chain for a card, walked up from the visitor (one incoming REFERRED per card, so one chain), with the
# lead's conversion if it has one.
CHAIN = ("MATCH (v:Person {{key: $visitor}}) "
         "OPTIONAL MATCH (v)-[x:CONVERTED {{lead: $lead}}]->(:Card) "
         "OPTIONAL MATCH p = (v)<-[:REFERRED*1..{hops} {{card: $card}}]-(:Person) "
         "WITH x, p ORDER BY length(p) DESC LIMIT 1 "
         "RETURN x.order AS order_id, x.amount AS amount, x.at AS converted_at, [n IN nodes(p) | n.key] AS keys, "
         "[r IN relationships(p) | {{share: r.share, channel: r.channel, depth: r.depth, at: r.at}}] AS links")
# The leads an order converted on the given cards, each with its chain.
ATTRIBUTION = ("MATCH (v:Person {{key: $buyer}})-[x:CONVERTED {{order: $order}}]->(c:Card) WHERE c.id IN $cards "
               "OPTIONAL MATCH p = (v)<-[:REFERRED*1..{hops} {{card: x.card}}]-(:Person) "
               "WITH c, x, p ORDER BY length(p) DESC "
               "WITH c, x, collect(p)[0] AS chain "
               "RETURN c.id AS card, c.owner_key AS owner, x.lead AS lead, x.amount AS amount, x.at AS converted_at, "
               "[n IN nodes(chain) | n.key] AS keys, "
               "[r IN relationships(chain) | {{share: r.share, channel: r.channel, depth: r.depth, at: r.at}}] "
               "AS links ORDER BY card")


def _run(cypher: str, params: dict) -> list[dict]:
    try:
        return graph_shared().run(cypher, params)
    except GraphUnavailable as error:
        raise ServiceUnavailable(_("the share graph cannot be reached; try again shortly"),
                                 code="graph_unavailable") from error


def _bounded(value: int, *, low: int, high: int, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationFailed(_("%(name)s must be between %(low)s and %(high)s")
                               % {"name": name, "low": low, "high": high}, code="invalid",
                               detail={name: f"{low}..{high}"})
    return value


# --- who may ask -------------------------------------------------------------------------------------------------
def card_for_viewer(*, user, card_id: int) -> BusinessCard:
    """A card its owner reads, or the manager (or owner) of its store; NotFound for anyone else."""
    card = BusinessCard.objects.filter(pk=card_id).select_related("store").first()
    if card is None or not (card.owner_id == user.pk or store_manager_of(user=user, store_id=card.store_id)):
        raise NotFound(_("no such card"), code="card_not_found")
    return card


def order_for_viewer(*, user, order_id: int) -> tuple[Order, list[BusinessCard]]:
    """An order of a store the user works in, and the cards of that store the user may read (a rep: their own;
    the store's manager or owner: all of them). NotFound when there are none."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("no such order"), code="order_not_found")
    cards = BusinessCard.objects.filter(store_id=order.store_id)
    if not store_manager_of(user=user, store_id=order.store_id):
        cards = cards.filter(owner=user)
    cards = list(cards.order_by("pk"))
    if not cards:
        raise NotFound(_("no such order"), code="order_not_found")
    return order, cards


# --- the questions -----------------------------------------------------------------------------------------------
def tree(*, card: BusinessCard, depth: int = DEFAULT_DEPTH, limit: int = DEFAULT_NODES) -> dict:
    """The propagation tree under the card's rep: `depth` levels (1..MAX_DEPTH), at most `limit` nodes
    (1..MAX_NODES), breadth first; `truncated` says whether more nodes exist within that depth."""
    depth = _bounded(depth, low=1, high=MAX_DEPTH, name="depth")
    limit = _bounded(limit, low=1, high=MAX_NODES, name="limit")
    root = f"u:{card.owner_id}"
    rows = _run(TREE.format(depth=depth), {"root": root, "card": card.pk, "limit": limit + 1})
    return {"card_id": card.pk, "root": root, "depth": depth, "limit": limit, "truncated": len(rows) > limit,
            "nodes": rows[:limit]}


def levels(*, card: BusinessCard, depth: int = MAX_DEPTH) -> dict:
    """People per level of the rep's tree, forwarders per level, the second-level share ratio (二次转发率: the share
    of level-1 visitors who forwarded the card again) and the branching factor (people each person of the tree
    brought, on average, level by level and overall)."""
    depth = _bounded(depth, low=1, high=MAX_DEPTH, name="depth")
    rows = _run(LEVELS.format(depth=depth), {"root": f"u:{card.owner_id}", "card": card.pk})
    total = rows[0]["total"] if rows else 0
    counted = {row["level"]: row for row in rows if row["level"] is not None}
    return levels_summary(card_id=card.pk, depth=depth, referred_total=total,
                          per_level={level: (row["people"], row["forwarders"]) for level, row in counted.items()})


def levels_summary(*, card_id: int, depth: int, referred_total: int, per_level: dict[int, tuple[int, int]]) -> dict:
    """The figures derived from people and forwarders per level (shared with the PostgreSQL answer)."""
    people = [per_level.get(level, (0, 0))[0] for level in range(1, depth + 1)]
    forwarders = [per_level.get(level, (0, 0))[1] for level in range(1, depth + 1)]
    while people and not people[-1]:
        people.pop()
        forwarders.pop()
    rows, above = [], 1  # level 0 is the rep alone
    for index, (count, forwarded) in enumerate(zip(people, forwarders, strict=True)):
        rows.append({"level": index + 1, "people": count, "forwarders": forwarded,
                     "forward_ratio": _ratio(forwarded, count), "branching": _ratio(count, above)})
        above = count
    reached = sum(people)
    parents = 1 + sum(people[:-1])  # people whose children were counted (the last level's are beyond `depth`)
    return {"card_id": card_id, "depth": depth, "levels": rows, "reached": reached,
            "referred_total": referred_total, "outside": max(referred_total - reached, 0),
            "second_level_ratio": rows[0]["forward_ratio"] if rows else None,
            "branching_factor": _ratio(reached, parents) if rows else None}


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def spreaders(*, card: BusinessCard, depth: int = DEFAULT_DEPTH, limit: int = DEFAULT_SPREADERS) -> dict:
    """Top spreaders of a card (its rep aside): people reached within `depth` hops, directly, and conversions
    among them; largest reach first."""
    depth = _bounded(depth, low=1, high=MAX_DEPTH, name="depth")
    limit = _bounded(limit, low=1, high=MAX_SPREADERS, name="limit")
    rows = _run(SPREADERS.format(depth=depth), {"root": f"u:{card.owner_id}", "card": card.pk, "limit": limit})
    return {"card_id": card.pk, "depth": depth, "spreaders": rows}


def lead_chain(*, lead: Lead) -> dict:
    """The chain of shares from the rep to a lead's visitor on the lead's card (and the lead's conversion)."""
    rows = _run(CHAIN.format(hops=MAX_CHAIN), {"visitor": lead.visitor_key, "lead": lead.pk, "card": lead.card_id})
    row = rows[0] if rows else {"order_id": None, "amount": None, "converted_at": None, "keys": None, "links": None}
    chain = _chain(row["keys"] or [lead.visitor_key], row["links"] or [])
    root = f"u:{lead.card.owner_id}"
    return {"lead_id": lead.pk, "card_id": lead.card_id, **chain, "from_rep": chain["people"][0] == root,
            "order_id": row["order_id"], "amount": _money(row["amount"]), "converted_at": row["converted_at"]}


def _chain(keys: list[str], links: list[dict]) -> dict:
    """The graph walks up from the visitor; the chain reads down from its first sharer."""
    return {"people": list(reversed(keys)), "links": list(reversed(links))}


def _money(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(CENTS)


def order_attribution(*, order: Order, cards: list[BusinessCard]) -> dict:
    """The leads an order converted on these cards, each with its chain and the order's amount split among the
    sharers on the chain (linear attribution: an equal part each, cents rounded down, the remainder to the direct
    referrer, who stands last)."""
    rows = _run(ATTRIBUTION.format(hops=MAX_CHAIN),
                {"buyer": f"u:{order.buyer_id}", "order": order.pk, "cards": [card.pk for card in cards]})
    owners = {card.pk: f"u:{card.owner_id}" for card in cards}
    attributions = []
    for row in rows:
        chain = _chain(row["keys"] or [f"u:{order.buyer_id}"], row["links"] or [])
        amount = _money(row["amount"])
        attributions.append({"card_id": row["card"], "lead_id": row["lead"], "amount": amount,
                             "converted_at": row["converted_at"], **chain,
                             "from_rep": chain["people"][0] == owners.get(row["card"]),
                             "credits": credits_split(amount, chain["people"][:-1])})
    return {"order_id": order.pk, "buyer": f"u:{order.buyer_id}", "attributions": attributions}


def credits_split(amount: Decimal | None, sharers: list[str]) -> list[dict]:
    if amount is None or not sharers:
        return []
    part = (amount / len(sharers)).quantize(CENTS, rounding=ROUND_DOWN)
    parts = [part] * len(sharers)
    parts[-1] += amount - part * len(sharers)
    return [{"person": key, "amount": value} for key, value in zip(sharers, parts, strict=True)]


# --- people as the rep may see them ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PersonView:
    ref: str  # stable and opaque: a device id is never shown (it works as the anonymous visitor's credential)
    label: str
    user_id: int | None
    lead_id: int | None


def people_describe(*, keys: set[str], owner_id: int) -> dict[str, PersonView]:
    """Labels of the people in an answer: nicknames of users, "访客" and a short mark for anonymous devices, and
    the lead each one is for the card's rep (two queries, whatever the number of people)."""
    user_ids = {int(key[2:]) for key in keys if key.startswith("u:") and key[2:].isdigit()}
    users = {user.pk: user for user in get_user_model().objects.filter(pk__in=user_ids)}
    leads = dict(Lead.objects.filter(owner_id=owner_id, visitor_key__in=keys).values_list("visitor_key", "pk"))
    described = {}
    for key in keys:
        mark = salted_hmac("cards.analytics.person", key).hexdigest()[:12]
        if key.startswith("u:") and key[2:].isdigit():
            user = users.get(int(key[2:]))
            label = str(user) if user is not None else f"用户{key[2:]}"
            described[key] = PersonView(f"u{key[2:]}", label, int(key[2:]), leads.get(key))
        else:
            described[key] = PersonView(f"v{mark}", f"访客{mark[:4]}", None, leads.get(key))
    return described


def cards_visible_to(*, user):
    """Cards the user may read analytics of: their own, and every card of the stores they manage or own."""
    managed = Store.objects.filter(Q(owner=user) | Q(memberships__user=user, memberships__role=StoreStaff.Role.MANAGER))
    return BusinessCard.objects.filter(Q(owner=user) | Q(store__in=managed)).select_related("store", "owner")



# --- answers for a viewer: checked access, then people as the rep may see them -----------------------------------
def _view(person: PersonView | None) -> dict | None:
    if person is None:
        return None
    return {"ref": person.ref, "label": person.label, "user_id": person.user_id, "lead_id": person.lead_id}


def card_tree_for(*, user, card_id: int, depth: int = DEFAULT_DEPTH, limit: int = DEFAULT_NODES) -> dict:
    card = card_for_viewer(user=user, card_id=card_id)
    answer = tree(card=card, depth=depth, limit=limit)
    keys = {answer["root"]} | {node["key"] for node in answer["nodes"]} | {node["parent"] for node in answer["nodes"]}
    people = people_describe(keys=keys, owner_id=card.owner_id)
    answer["root"] = _view(people[answer["root"]])
    answer["nodes"] = [{"person": _view(people[node["key"]]), "parent": people[node["parent"]].ref,
                        "level": node["level"], "share_id": node["share"], "channel": node["channel"],
                        "at": node["at"]} for node in answer["nodes"]]
    return answer


def card_levels_for(*, user, card_id: int, depth: int = MAX_DEPTH) -> dict:
    return levels(card=card_for_viewer(user=user, card_id=card_id), depth=depth)


def card_spreaders_for(*, user, card_id: int, depth: int = DEFAULT_DEPTH, limit: int = DEFAULT_SPREADERS) -> dict:
    card = card_for_viewer(user=user, card_id=card_id)
    answer = spreaders(card=card, depth=depth, limit=limit)
    people = people_describe(keys={row["key"] for row in answer["spreaders"]}, owner_id=card.owner_id)
    answer["spreaders"] = [{"person": _view(people[row.pop("key")]), **row} for row in answer["spreaders"]]
    return answer


def _chain_view(answer: dict, people: dict[str, PersonView]) -> dict:
    answer["people"] = [_view(people[key]) for key in answer["people"]]
    answer["links"] = [{"share_id": link["share"], "channel": link["channel"], "depth": link["depth"],
                        "at": link["at"]} for link in answer["links"]]
    if "credits" in answer:
        answer["credits"] = [{"person": _view(people[credit["person"]]), "amount": credit["amount"]}
                             for credit in answer["credits"]]
    return answer


def lead_chain_for(*, user, lead_id: int) -> dict:
    lead = lead_visible(user=user, lead_id=lead_id)
    answer = lead_chain(lead=lead)
    return _chain_view(answer, people_describe(keys=set(answer["people"]), owner_id=lead.card.owner_id))


def order_attribution_for(*, user, order_id: int) -> dict:
    order, cards = order_for_viewer(user=user, order_id=order_id)
    answer = order_attribution(order=order, cards=cards)
    owners = {card.pk: card.owner_id for card in cards}
    buyer = people_describe(keys={answer["buyer"]}, owner_id=cards[0].owner_id)[answer["buyer"]]
    answer["buyer"] = _view(buyer)
    answer["attributions"] = [
        _chain_view(item, people_describe(keys=set(item["people"]), owner_id=owners[item["card_id"]]))
        for item in answer["attributions"]]
    return answer
