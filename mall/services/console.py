"""Writes the merchant console needs that no other service offers yet."""
from decimal import Decimal

from django.db import transaction

from core.errors import NotFound, ValidationFailed
from mall.models import Listing
from mall.services import catalogue


def listing_update(*, listing_id: int, price: Decimal, status: str) -> Listing:
    """A merchant edits a listing: its price (never below the SKU's floor, checked by `catalogue.listing_set_price`)
    and whether it is on sale."""
    if status not in Listing.Status.values:
        raise ValidationFailed("上架状态无效 (unknown listing status)", code="invalid_listing_status")
    with transaction.atomic():
        listing = Listing.objects.select_for_update(of=("self",)).select_related("sku").filter(pk=listing_id).first()
        if listing is None:
            raise NotFound("商品不存在 (no such listing)", code="listing_not_found")
        if price != listing.price:
            catalogue.listing_set_price(listing=listing, price=price)
        if status != listing.status:
            listing.status = status
            listing.save(update_fields=["status", "updated_at"])
    return listing
