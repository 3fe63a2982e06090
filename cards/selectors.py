"""Reads of the cards app: a rep's cards and leads, a store's leads, a published card, commission."""
from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects

from cards.models import BusinessCard, CardFeaturedListing, CommissionAccount, CommissionEntry, Lead, Withdrawal
from cards.services.leads import store_manager_of
from mall.models import Listing, Store, StoreStaff


def cards_of(*, owner) -> QuerySet[BusinessCard]:
    return BusinessCard.objects.filter(owner=owner).select_related("store").order_by("-updated_at", "-pk")


def card_with_featured(card: BusinessCard) -> BusinessCard:
    """The card with its featured listings (those still on sale), in their order, as `featured_listings`."""
    links = (CardFeaturedListing.objects.filter(card=card, listing__status=Listing.Status.ACTIVE)
             .select_related("listing__sku__product__category", "listing__store", "listing__sku__stock"))
    card.featured_listings = [link.listing for link in links]
    return card


def leads_visible_to(*, user, store_id: int | None = None, stage: str | None = None, query: str = ""
                     ) -> QuerySet[Lead]:
    """A rep's own leads; with `store_id`, a manager's view of the whole store (a rep still sees only theirs)."""
    if store_id is not None and store_manager_of(user=user, store_id=store_id):
        leads = Lead.objects.filter(store_id=store_id)
    else:
        leads = Lead.objects.filter(owner=user)
        if store_id is not None:
            leads = leads.filter(store_id=store_id)
    if stage:
        leads = leads.filter(stage=stage)
    if query:
        leads = leads.filter(Q(user__nickname__icontains=query) | Q(user__phone__endswith=query))
    return leads.select_related("user", "card").order_by("-last_seen_at", "-pk")


def lead_notes(lead: Lead) -> Lead:
    return Lead.objects.prefetch_related(Prefetch("notes")).get(pk=lead.pk)


def stores_managed_by(*, user) -> list[int]:
    owned = set(Store.objects.filter(owner=user).values_list("pk", flat=True))
    managed = set(StoreStaff.objects.filter(user=user, role=StoreStaff.Role.MANAGER).values_list("store_id", flat=True))
    return sorted(owned | managed)


def commission_account_of(*, user) -> CommissionAccount:
    return CommissionAccount.objects.filter(user=user).first() or CommissionAccount(user=user)


def commission_entries_of(*, user, status: str | None = None) -> QuerySet[CommissionEntry]:
    entries = CommissionEntry.objects.filter(account__user=user).select_related("order", "store")
    if status:
        entries = entries.filter(status=status)
    return entries.order_by("-created_at", "-pk")


def withdrawals_of(*, user) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(account__user=user).order_by("-created_at", "-pk")


def is_rep(*, user) -> bool:
    """Merchant staff (a store's owner or staff, or the owner of a card): who has a radar and a console."""
    return (StoreStaff.objects.filter(user=user).exists() or Store.objects.filter(owner=user).exists()
            or BusinessCard.objects.filter(owner=user).exists())


def card_for_page(card: BusinessCard) -> BusinessCard:
    """The card with its featured listings on sale and their pictures, for the H5 card page."""
    card = card_with_featured(card)
    prefetch_related_objects(card.featured_listings, "sku__product__images")
    return card
