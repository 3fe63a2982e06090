"""The visit consumer's work: from tracking events to visits, first-touch referrals, leads, customer assignments,
distribution bindings, conversions and the rep's radar.

It runs in the batch consumer's transaction (cards/events.py, `cards.visits`), so each event takes effect exactly
once. It is set-based: a batch of a thousand events costs a handful of statements, not a handful per event, so it
keeps up with the tracking endpoint. Events are applied in commit order; within a batch a device's login is applied
before the actions that follow it.

Attribution (CARDS_ATTRIBUTION): `permanent` (first touch wins for ever), `days` (first touch wins for
CARDS_ATTRIBUTION_DAYS, then the next share that brings the visitor takes over) or `last_click`.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from cards import radar
from cards.models import (
    BusinessCard,
    CardVisit,
    CustomerAssignment,
    DistributionBinding,
    Lead,
    Referral,
    Share,
    VisitorIdentity,
)
from cards.services.sharing import Action, canonical_key, user_id_of
from core.events import record_event, record_events
from core.models import BehaviourEvent


@dataclass
class _VisitDraft:
    visit_key: str
    card_id: int
    visitor_key: str
    share_id: str | None
    started_at: datetime
    last_seen_at: datetime
    dwell_seconds: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    products: list[int] = field(default_factory=list)


def visit_events_apply(*, events: list[BehaviourEvent]) -> None:
    identities = [event for event in events if event.kind == "visitor_identified"]
    actions = [event for event in events if event.kind == "card_action"]
    payments = [event for event in events if event.kind == "order_paid"]
    if identities:
        visitors_merge(pairs=[(event.payload["visitor_id"], event.actor_id) for event in identities])
    if actions:
        card_actions_apply(events=actions)
    if payments:
        leads_convert(events=payments)


# --- keys -------------------------------------------------------------------------------------------------------
def _event_key(event: BehaviourEvent, identities: dict[str, int]) -> str:
    if event.actor_id is not None:
        return f"u:{event.actor_id}"
    user_id = identities.get(event.visitor_id)
    return f"u:{user_id}" if user_id is not None else f"v:{event.visitor_id}"


def _identities(visitor_ids: set[str]) -> dict[str, int]:
    if not visitor_ids:
        return {}
    return dict(VisitorIdentity.objects.filter(visitor_id__in=visitor_ids).values_list("visitor_id", "user_id"))


# --- actions ----------------------------------------------------------------------------------------------------
def card_actions_apply(*, events: list[BehaviourEvent]) -> None:
    identities = _identities({event.visitor_id for event in events if event.actor_id is None})
    drafts: dict[str, _VisitDraft] = {}
    arrivals: dict[tuple[int, str], tuple[str, datetime]] = {}  # (card, visitor) -> last share seen, its time
    firsts: dict[tuple[int, str], tuple[str, datetime]] = {}  # (card, visitor) -> first share seen, its time
    for event in events:
        key = _event_key(event, identities)
        card_id = int(event.object_id)
        visit_key = f"{card_id}:{event.payload['visit_id']}"
        draft = drafts.get(visit_key)
        share_id = event.payload.get("share_id")
        if draft is None:
            draft = drafts[visit_key] = _VisitDraft(visit_key, card_id, key, share_id, event.created_at,
                                                    event.created_at)
        draft.last_seen_at = max(draft.last_seen_at, event.created_at)
        draft.share_id = draft.share_id or share_id
        draft.dwell_seconds = max(draft.dwell_seconds, event.payload.get("dwell_seconds") or 0)
        action = event.payload["action"]
        draft.actions[action] = draft.actions.get(action, 0) + 1
        listing_id = event.payload.get("listing_id")
        if listing_id and listing_id not in draft.products:
            draft.products.append(listing_id)
        if share_id:
            firsts.setdefault((card_id, key), (share_id, event.created_at))
            arrivals[(card_id, key)] = (share_id, event.created_at)

    cards = {card.pk: card for card in BusinessCard.objects.filter(pk__in={d.card_id for d in drafts.values()})}
    drafts = {visit_key: draft for visit_key, draft in drafts.items() if draft.card_id in cards}
    new_visits, dwell_growth = _visits_upsert(drafts)
    changed_referrals = _referrals_apply(cards=cards, firsts=firsts, arrivals=arrivals)
    leads = _leads_apply(cards=cards, drafts=list(drafts.values()), new_visits=new_visits, dwell_growth=dwell_growth)
    _customers_bind(referrals=changed_referrals, cards=cards)
    radar.radar_items_publish(cards=cards, drafts=list(drafts.values()), new_visits=new_visits, leads=leads)


def _visits_upsert(drafts: dict[str, _VisitDraft]) -> tuple[set[str], dict[str, int]]:
    """Write the batch's visits, merged into the rows earlier batches wrote. Returns the visit keys that are new and
    how much each visit's dwell grew (the page reports its dwell so far, so a visit's events may land in several
    batches: only the growth is new time)."""
    existing = {visit.visit_key: visit for visit in CardVisit.objects.filter(visit_key__in=list(drafts))}
    known_shares = set(Share.objects.filter(pk__in={d.share_id for d in drafts.values() if d.share_id})
                       .values_list("pk", flat=True))
    rows, growth = [], {}
    for visit_key, draft in drafts.items():
        old = existing.get(visit_key)
        growth[visit_key] = max(draft.dwell_seconds - (old.dwell_seconds if old else 0), 0)
        actions = dict(old.actions) if old else {}
        for action, count in draft.actions.items():
            actions[action] = actions.get(action, 0) + count
        products = list(old.products) if old else []
        products += [listing_id for listing_id in draft.products if listing_id not in products]
        rows.append(CardVisit(
            visit_key=visit_key, card_id=draft.card_id, visitor_key=old.visitor_key if old else draft.visitor_key,
            user_id=user_id_of(old.visitor_key if old else draft.visitor_key),
            share_id=(old.share_id if old else None) or (draft.share_id if draft.share_id in known_shares else None),
            started_at=min(old.started_at, draft.started_at) if old else draft.started_at,
            last_seen_at=max(old.last_seen_at, draft.last_seen_at) if old else draft.last_seen_at,
            dwell_seconds=max(old.dwell_seconds if old else 0, draft.dwell_seconds), actions=actions,
            products=products[:50]))
    CardVisit.objects.bulk_create(rows, update_conflicts=True, unique_fields=["visit_key"],
                                  update_fields=["share", "last_seen_at", "dwell_seconds", "actions", "products"])
    return set(drafts) - set(existing), growth


def _attribution_replaces(referral: Referral, *, share_id: str, at: datetime) -> bool:
    mode = settings.CARDS_ATTRIBUTION
    if referral.share_id == share_id:
        return False
    if mode == "last_click":
        return at > referral.bound_at
    if mode == "days":
        return at - referral.bound_at > timedelta(days=settings.CARDS_ATTRIBUTION_DAYS)
    return False  # permanent: first touch wins for ever


def _referrals_apply(*, cards: dict[int, BusinessCard], firsts: dict, arrivals: dict) -> list[Referral]:
    """First touch (or what the attribution setting says) for every (card, visitor) that arrived through a share
    in this batch. Returns the referrals created or moved; each is recorded as `card_referral_bound`."""
    pairs = [(card_id, key) for card_id, key in firsts if card_id in cards]
    if not pairs:
        return []
    # Both columns IN their sets, then the exact pairs in Python: a thousand ORed pairs cost the ORM more to build
    # than the database to answer.
    wanted = set(pairs)
    existing = {(r.card_id, r.visitor_key): r for r in Referral.objects.filter(
        card_id__in={card_id for card_id, _key in pairs}, visitor_key__in={key for _card, key in pairs})
        if (r.card_id, r.visitor_key) in wanted}
    shares = {share.pk: share for share in Share.objects.filter(
        pk__in={firsts[pair][0] for pair in pairs} | {arrivals[pair][0] for pair in pairs})}
    changed: list[tuple[Referral, str | None]] = []
    for card_id, key in pairs:
        owner_key = f"u:{cards[card_id].owner_id}"
        if key == owner_key:
            continue  # the rep opening their own card is nobody's referral
        referral = existing.get((card_id, key))
        if referral is None:
            share_id, at = firsts[(card_id, key)]
            share = shares.get(share_id)
            if share is None or share.sharer_key == key:
                continue  # one's own share refers nobody
            changed.append((Referral(card_id=card_id, visitor_key=key, share=share, first_at=at, bound_at=at), None))
            continue
        share_id, at = arrivals[(card_id, key)]
        share = shares.get(share_id)
        if share is not None and share.sharer_key != key and _attribution_replaces(referral, share_id=share_id,
                                                                                   at=at):
            previous = referral.share_id
            referral.share, referral.bound_at = share, at
            changed.append((referral, previous))
    Referral.objects.bulk_create([r for r, previous in changed if r.pk is None])
    moved = [r for r, previous in changed if previous is not None]
    if moved:
        Referral.objects.bulk_update(moved, ["share", "bound_at"])
    record_events([{"kind": "card_referral_bound", "object_type": "cards.businesscard", "object_id": referral.card_id,
                    "payload": {"card_id": referral.card_id, "visitor_key": referral.visitor_key,
                                "share_id": referral.share.pk, "sharer_key": referral.share.sharer_key,
                                "depth": referral.share.depth, "channel": referral.share.channel,
                                "replaced": previous}} for referral, previous in changed])
    return [referral for referral, _previous in changed]


def _leads_apply(*, cards: dict[int, BusinessCard], drafts: list[_VisitDraft], new_visits: set[str],
                 dwell_growth: dict[str, int]) -> dict:
    """One lead per (card owner, visitor): counters, first and last seen. Returns leads by (owner id, key)."""
    merged: dict[tuple[int, str], dict] = {}
    for draft in drafts:
        card = cards[draft.card_id]
        if draft.visitor_key == f"u:{card.owner_id}":
            continue
        entry = merged.setdefault((card.owner_id, draft.visitor_key), {
            "card": card, "visits": 0, "dwell": 0, "actions": defaultdict(int), "first": draft.started_at,
            "last": draft.last_seen_at})
        entry["visits"] += draft.visit_key in new_visits
        entry["dwell"] += dwell_growth[draft.visit_key]
        for action, count in draft.actions.items():
            entry["actions"][action] += count
        entry["first"] = min(entry["first"], draft.started_at)
        entry["last"] = max(entry["last"], draft.last_seen_at)
    if not merged:
        return {}
    existing = {(lead.owner_id, lead.visitor_key): lead for lead in Lead.objects.filter(
        owner_id__in={owner_id for owner_id, _key in merged}, visitor_key__in={key for _owner, key in merged})
        if (lead.owner_id, lead.visitor_key) in merged}
    rows = []
    for (owner_id, key), entry in merged.items():
        lead = existing.get((owner_id, key))
        actions = dict(lead.actions) if lead else {}
        for action, count in entry["actions"].items():
            actions[action] = actions.get(action, 0) + count
        stage = lead.stage if lead else Lead.Stage.NEW
        if stage == Lead.Stage.NEW and any(actions.get(action) for action in Action.HIGH_INTENT):
            stage = Lead.Stage.INTERESTED
        card = entry["card"]
        rows.append(Lead(
            owner_id=owner_id, visitor_key=key, card=lead.card if lead else card, store_id=card.store_id,
            user_id=user_id_of(key), stage=stage, visits=(lead.visits if lead else 0) + entry["visits"],
            dwell_seconds=(lead.dwell_seconds if lead else 0) + entry["dwell"], actions=actions,
            first_seen_at=min(lead.first_seen_at, entry["first"]) if lead else entry["first"],
            last_seen_at=max(lead.last_seen_at, entry["last"]) if lead else entry["last"],
            created_at=lead.created_at if lead else timezone.now(), updated_at=timezone.now()))
    written = Lead.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["owner", "visitor_key"],
        update_fields=["stage", "visits", "dwell_seconds", "actions", "last_seen_at", "updated_at", "user"])
    return {(lead.owner_id, lead.visitor_key): lead for lead in written}


def _customers_bind(*, referrals: list[Referral], cards: dict[int, BusinessCard]) -> None:
    """A logged-in customer who arrived through a share belongs to the card's rep in that store (first one wins)
    and is bound to the share's chain for distribution rebates (two levels)."""
    assignments, bindings = [], []
    now = timezone.now()
    for referral in referrals:
        buyer_id = user_id_of(referral.visitor_key)
        card = cards.get(referral.card_id) or BusinessCard.objects.get(pk=referral.card_id)
        if buyer_id is None or buyer_id == card.owner_id:
            continue
        if settings.CARDS_ONE_REP_PER_STORE:
            assignments.append(CustomerAssignment(store_id=card.store_id, customer_id=buyer_id, rep_id=card.owner_id))
        binding = distribution_binding_for(share=referral.share, buyer_id=buyer_id, store_id=card.store_id, at=now)
        if binding is not None:
            bindings.append(binding)
    CustomerAssignment.objects.bulk_create(assignments, ignore_conflicts=True)
    DistributionBinding.objects.bulk_create(bindings, ignore_conflicts=True)


def distribution_binding_for(*, share: Share, buyer_id: int, store_id: int, at: datetime
                             ) -> DistributionBinding | None:
    """The two beneficiaries of a buyer who arrived through `share`: its sharer, and the sharer of its parent.
    Anonymous sharers who never logged in cannot be paid and are skipped; nobody earns on their own purchases."""
    level1 = user_id_of(canonical_key(share.sharer_key))
    if level1 is None or level1 == buyer_id:
        return None
    level2 = None
    if share.parent_id:
        parent_key = Share.objects.filter(pk=share.parent_id).values_list("sharer_key", flat=True).first()
        level2 = user_id_of(canonical_key(parent_key or ""))
        if level2 in (buyer_id, level1):
            level2 = None
    return DistributionBinding(store_id=store_id, buyer_id=buyer_id, share=share, level1_id=level1,
                               level2_id=level2, bound_at=at)


# --- a device logs in -------------------------------------------------------------------------------------------
def visitors_merge(*, pairs: list[tuple[str, int]]) -> None:
    """Move an anonymous device's rows to its user: visits, shares, referrals (the earliest first touch of the two
    wins), leads (counters added up). The moved referrals are recorded again, so the graph follows."""
    for visitor_id, user_id in pairs:
        old, new = f"v:{visitor_id}", f"u:{user_id}"
        CardVisit.objects.filter(visitor_key=old).update(visitor_key=new, user_id=user_id)
        Share.objects.filter(sharer_key=old).update(sharer_key=new)
        record_event(kind="visitor_merged", payload={"from_key": old, "to_key": new})
        moved = []
        for referral in Referral.objects.filter(visitor_key=old).select_related("share", "card"):
            kept = Referral.objects.filter(card_id=referral.card_id, visitor_key=new).first()
            if kept is not None and kept.first_at <= referral.first_at:
                referral.delete()
                continue
            if kept is not None:
                kept.delete()
            referral.visitor_key = new
            referral.save(update_fields=["visitor_key"])
            moved.append(referral)
            record_event(kind="card_referral_bound", object_type="cards.businesscard", object_id=referral.card_id,
                         payload={"card_id": referral.card_id, "visitor_key": new, "share_id": referral.share_id,
                                  "sharer_key": referral.share.sharer_key, "depth": referral.share.depth,
                                  "channel": referral.share.channel, "replaced": old})
        for lead in Lead.objects.filter(visitor_key=old):
            kept = Lead.objects.filter(owner_id=lead.owner_id, visitor_key=new).first()
            if kept is None:
                lead.visitor_key, lead.user_id = new, user_id
                lead.save(update_fields=["visitor_key", "user", "updated_at"])
                continue
            for action, count in lead.actions.items():
                kept.actions[action] = kept.actions.get(action, 0) + count
            kept.visits += lead.visits
            kept.dwell_seconds += lead.dwell_seconds
            kept.first_seen_at = min(kept.first_seen_at, lead.first_seen_at)
            kept.last_seen_at = max(kept.last_seen_at, lead.last_seen_at)
            kept.save(update_fields=["actions", "visits", "dwell_seconds", "first_seen_at", "last_seen_at",
                                     "updated_at"])
            lead.notes.update(lead=kept)
            lead.delete()
        _customers_bind(referrals=moved, cards={})


# --- conversions ------------------------------------------------------------------------------------------------
def leads_convert(*, events: list[BehaviourEvent]) -> None:
    """A lead converts when its visitor pays an order in the card's store within CARDS_CONVERSION_DAYS of their
    last visit (the label of the intent score). Set-based: one read of the batch's candidate leads, one write."""
    window = timedelta(days=settings.CARDS_CONVERSION_DAYS)
    pairs = {(f"u:{event.actor_id}", event.payload["store_id"]) for event in events if event.actor_id is not None}
    if not pairs:
        return
    candidates: dict[tuple[str, int], list[Lead]] = defaultdict(list)
    for lead in Lead.objects.filter(visitor_key__in={key for key, _store in pairs},
                                    store_id__in={store_id for _key, store_id in pairs},
                                    converted_at__isnull=True).order_by("pk"):
        if (lead.visitor_key, lead.store_id) in pairs:
            candidates[(lead.visitor_key, lead.store_id)].append(lead)
    converted = []
    for event in events:  # in commit order: a lead converts on the first payment that qualifies
        buyer_key = f"u:{event.actor_id}"
        for lead in candidates.get((buyer_key, event.payload["store_id"]), ()):
            if lead.converted_at is not None or not (
                    event.created_at - window <= lead.last_seen_at <= event.created_at):
                continue
            lead.converted_at, lead.updated_at = event.created_at, timezone.now()
            if lead.stage != Lead.Stage.LOST:
                lead.stage = Lead.Stage.WON
            converted.append(lead)
            record_event(kind="lead_converted", object_type="cards.lead", object_id=lead.pk,
                         payload={"lead_id": lead.pk, "card_id": lead.card_id, "visitor_key": buyer_key,
                                  "order_id": int(event.object_id), "amount": Decimal(str(event.payload["total"]))})
    Lead.objects.bulk_update(converted, ["converted_at", "stage", "updated_at"])
