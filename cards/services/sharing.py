"""Who a visitor is, business cards, shares, and the tracking endpoint's one write.

Visitor keys: "u:<user id>" for a logged-in user, "v:<device id>" for an anonymous device (the mini-program's or H5
page's `X-Visitor-Id`). A device that logged in maps to its user (VisitorIdentity).
"""
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.models import BusinessCard, CardFeaturedListing, Share, VisitorIdentity
from core.errors import BusinessRuleViolation, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from core.events import record_event
from mall.models import Listing, Store, StoreStaff

VISITOR_ID = re.compile(r"[A-Za-z0-9_\-]{8,64}")
VISIT_ID = re.compile(r"[A-Za-z0-9_\-]{8,64}")
SHARE_ID = re.compile(r"[A-Za-z0-9_\-]{8,24}")
MAX_FEATURED = 12


class Action:
    """What a visitor can do on a card page (the tracking endpoint's `action`)."""

    VIEW_CARD = "view_card"
    VIEW_PRODUCT = "view_product"
    COPY_WECHAT = "copy_wechat"
    SAVE_PHONE = "save_phone"
    CALL = "call"
    CHAT = "chat"
    AUTHORIZE_PHONE = "authorize_phone"
    ORDER = "order"
    SHARE = "share"
    LEAVE = "leave"

    ALL = ("view_card", "view_product", "copy_wechat", "save_phone", "call", "chat", "authorize_phone", "order",
           "share", "leave")
    # Actions that say more about buying than looking (features of the intent score, radar highlights).
    HIGH_INTENT = ("copy_wechat", "save_phone", "call", "chat", "authorize_phone", "order")


def visitor_key(*, user_id: int | None = None, visitor_id: str = "") -> str:
    if user_id is not None:
        return f"u:{user_id}"
    if not VISITOR_ID.fullmatch(visitor_id or ""):
        raise NotAuthenticated(_("log in, or send your device id in X-Visitor-Id"), code="visitor_unknown")
    return f"v:{visitor_id}"


def user_id_of(key: str) -> int | None:
    return int(key[2:]) if key.startswith("u:") else None


def canonical_key(key: str) -> str:
    """The user's key for a device that has logged in since; any other key as it is."""
    if key.startswith("v:"):
        user_id = VisitorIdentity.objects.filter(visitor_id=key[2:]).values_list("user_id", flat=True).first()
        if user_id is not None:
            return f"u:{user_id}"
    return key


# --- cards ------------------------------------------------------------------------------------------------------
def _mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 7 else ""


def _rep_store(*, user, store_id: int) -> Store:
    store = Store.objects.filter(pk=store_id).first()
    if store is None or not (store.owner_id == user.pk
                             or StoreStaff.objects.filter(store=store, user=user).exists()):
        raise PermissionDenied(_("you are not on this store's staff"), code="not_store_staff")
    return store


def card_save(*, owner, store_id: int, name: str, title: str = "", company: str = "", phone: str = "",
              wechat_id: str = "", avatar_url: str = "", intro: str = "", theme: str = BusinessCard.Theme.CLASSIC,
              featured_listing_ids: list[int] | None = None) -> BusinessCard:
    """Create or update the owner's card for a store (one per rep and store). Featured listings must be the
    store's own, on sale."""
    store = _rep_store(user=owner, store_id=store_id)
    phone_digits = re.sub(r"[\s\-]", "", phone or "")
    if phone_digits and not re.fullmatch(r"\+?\d{7,15}", phone_digits):
        raise ValidationFailed(_("enter a phone number of 7 to 15 digits"), code="phone_invalid")
    featured = list(dict.fromkeys(featured_listing_ids or []))
    if len(featured) > MAX_FEATURED:
        raise ValidationFailed(_("at most %(count)s featured products") % {"count": MAX_FEATURED},
                               code="too_many_featured")
    if featured:
        own = set(Listing.objects.filter(pk__in=featured, store=store, status=Listing.Status.ACTIVE)
                  .values_list("pk", flat=True))
        foreign = [listing_id for listing_id in featured if listing_id not in own]
        if foreign:
            raise ValidationFailed(_("featured products must be this store's listings on sale"),
                                   code="featured_not_in_store", detail={"listing_ids": foreign})
    fields = {"name": name, "title": title, "company": company, "phone": phone_digits,
              "phone_masked": _mask_phone(phone_digits), "wechat_id": wechat_id, "avatar_url": avatar_url,
              "intro": intro, "theme": theme}
    with transaction.atomic():
        card, _created = BusinessCard.objects.select_for_update().update_or_create(
            owner=owner, store=store, defaults=fields)
        if featured_listing_ids is not None:
            CardFeaturedListing.objects.filter(card=card).delete()
            CardFeaturedListing.objects.bulk_create(
                [CardFeaturedListing(card=card, listing_id=listing_id, position=position)
                 for position, listing_id in enumerate(featured)])
    return card


def card_of_owner(*, owner, card_id: int) -> BusinessCard:
    card = BusinessCard.objects.filter(pk=card_id, owner=owner).first()
    if card is None:
        raise NotFound(_("no such card"), code="card_not_found")
    return card


def card_publish(*, owner, card_id: int, published: bool = True) -> BusinessCard:
    with transaction.atomic():
        card = BusinessCard.objects.select_for_update().filter(pk=card_id, owner=owner).first()
        if card is None:
            raise NotFound(_("no such card"), code="card_not_found")
        if published and not card.name.strip():
            raise BusinessRuleViolation(_("a card needs a name before it is published"), code="card_incomplete")
        status = BusinessCard.Status.PUBLISHED if published else BusinessCard.Status.UNPUBLISHED
        if card.status == status:
            return card
        card.status = status
        card.published_at = timezone.now() if published else card.published_at
        card.save(update_fields=["status", "published_at", "updated_at"])
        record_event(kind="card_published" if published else "card_unpublished", actor=owner, target=card,
                     payload={"store_id": card.store_id})
    _share_facts.cache_clear()  # here at once; in other processes within the cache's minute
    _card_is_published.cache_clear()
    return card


# --- shares -----------------------------------------------------------------------------------------------------
class _FoundCache:
    """Remembers what a lookup found (never what it did not find) for `ttl` seconds, per process: a share link
    opened by thousands of visitors costs one read a minute, a card published a moment ago resolves at once, and
    one taken offline stops resolving within a minute everywhere."""

    def __init__(self, lookup: Callable, *, ttl: float = 60.0, size: int = 100_000):
        self.lookup, self.ttl, self.size = lookup, ttl, size
        self._found: dict = {}
        self._lock = threading.Lock()

    def __call__(self, key):
        entry = self._found.get(key)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        value = self.lookup(key)
        if value is not None and value is not False:
            with self._lock:
                if len(self._found) >= self.size:
                    self._found.clear()
                self._found[key] = (value, time.monotonic() + self.ttl)
        return value

    def cache_clear(self) -> None:
        with self._lock:
            self._found.clear()


@dataclass(frozen=True)
class ShareFacts:
    share_id: str
    card_id: int
    depth: int
    sharer_key: str


def _share_lookup(share_id: str) -> ShareFacts | None:
    """A share's facts (they never change). Only shares of published cards resolve."""
    row = (Share.objects.filter(pk=share_id, card__status=BusinessCard.Status.PUBLISHED)
           .values_list("card_id", "depth", "sharer_key").first())
    return ShareFacts(share_id, *row) if row else None


_share_facts = _FoundCache(_share_lookup)


def share_resolve(*, share_id: str) -> ShareFacts:
    facts = _share_facts(share_id) if SHARE_ID.fullmatch(share_id or "") else None
    if facts is None:
        raise NotFound(_("this share link is not valid"), code="share_not_found")
    return facts


def published_card(*, card_id: int) -> BusinessCard:
    card = (BusinessCard.objects.filter(pk=card_id, status=BusinessCard.Status.PUBLISHED)
            .select_related("store", "owner").first())
    if card is None:
        raise NotFound(_("no such card, or it is offline"), code="card_not_found")
    return card


def _card_named(*, share: ShareFacts | None, card_id: int | None) -> int:
    """The card a request is about: the share's (a card id that contradicts it is refused), or the one named."""
    if share is not None:
        if card_id is not None and card_id != share.card_id:
            raise ValidationFailed(_("the share link belongs to another card"), code="share_card_mismatch")
        return share.card_id
    if card_id is None:
        raise ValidationFailed(_("name the card or the share you arrived through"), code="card_required")
    return card_id


def share_create(*, card_id: int | None = None, parent_id: str | None = None, channel: str = Share.Channel.FRIEND,
                 user_id: int | None = None, visitor_id: str = "") -> Share:
    """Forward a card: a new server-side share under the one the sharer arrived through (`parent_id`), or a root
    share. The card comes from the parent when there is one; a card id that contradicts it is refused."""
    sharer_key = canonical_key(visitor_key(user_id=user_id, visitor_id=visitor_id))
    if channel not in Share.Channel.values:
        raise ValidationFailed(_("unknown share channel"), code="channel_invalid",
                               detail={"allowed": list(Share.Channel.values)})
    parent = share_resolve(share_id=parent_id) if parent_id else None
    card = published_card(card_id=_card_named(share=parent, card_id=card_id))
    share = Share.objects.create(card=card, sharer_id=user_id, sharer_key=sharer_key, parent_id=parent_id or None,
                                 channel=channel, depth=(parent.depth + 1) if parent else 1)
    record_event(kind="card_shared", actor_id=user_id, visitor_id="" if user_id else visitor_id, target=card,
                 payload={"share_id": share.id, "parent_id": share.parent_id, "channel": channel,
                          "depth": share.depth, "sharer_key": sharer_key})
    return share


# --- tracking ---------------------------------------------------------------------------------------------------
MAX_DWELL_SECONDS = 6 * 3600


def card_track(*, visit_id: str, action: str, share_id: str | None = None, card_id: int | None = None,
               user_id: int | None = None, visitor_id: str = "", dwell_seconds: int | None = None,
               listing_id: int | None = None) -> None:
    """Record one thing a visitor did on a card page: one behaviour event, nothing else (no lock, no read but the
    cached share). Visits, first touch, leads, the radar and the graph are built from it by batch consumers."""
    visitor_key(user_id=user_id, visitor_id=visitor_id)  # refuses a request with neither
    if not VISIT_ID.fullmatch(visit_id or ""):
        raise ValidationFailed(_("visit_id: 8-64 letters, digits, - or _"), code="visit_id_invalid")
    if action not in Action.ALL:
        raise ValidationFailed(_("unknown action"), code="action_invalid", detail={"allowed": list(Action.ALL)})
    if dwell_seconds is not None and not 0 <= dwell_seconds <= MAX_DWELL_SECONDS:
        raise ValidationFailed(_("dwell_seconds out of range"), code="dwell_invalid")
    card_id = _card_named(share=share_resolve(share_id=share_id) if share_id else None, card_id=card_id)
    if not share_id and not _card_is_published(card_id):
        raise NotFound(_("no such card, or it is offline"), code="card_not_found")
    payload: dict = {"visit_id": visit_id, "action": action, "share_id": share_id or None}
    if dwell_seconds is not None:
        payload["dwell_seconds"] = dwell_seconds
    if listing_id is not None:
        payload["listing_id"] = listing_id
    record_event(kind="card_action", actor_id=user_id, visitor_id="" if user_id else visitor_id,
                 object_type="cards.businesscard", object_id=card_id, payload=payload)


_card_is_published = _FoundCache(
    lambda card_id: BusinessCard.objects.filter(pk=card_id, status=BusinessCard.Status.PUBLISHED).exists())


def visitor_identify(*, user, visitor_id: str) -> None:
    """A device that visited anonymously has logged in: remember it and let the visit consumer move its rows."""
    if not VISITOR_ID.fullmatch(visitor_id or ""):
        raise ValidationFailed(_("X-Visitor-Id: 8-64 letters, digits, - or _"), code="visitor_id_invalid")
    with transaction.atomic():
        identity, created = VisitorIdentity.objects.get_or_create(
            visitor_id=visitor_id, defaults={"user": user, "identified_at": timezone.now()})
        if not created and identity.user_id != user.pk:
            # A shared device: the first account keeps the anonymous history; later logins do not take it over.
            return
        if created:
            record_event(kind="visitor_identified", actor=user, target=user, payload={"visitor_id": visitor_id})
