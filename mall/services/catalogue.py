"""Stores, listings, addresses and carts."""
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from core.events import record_event
from core.money import to_money
from mall.models import Address, CartItem, Listing, Store
from supply.models import SKU, Region

MAX_ADDRESSES = 20
MAX_CART_ITEMS = 100
MAX_CART_QUANTITY = 999


def _check_price(sku: SKU, price: Decimal) -> Decimal:
    price = to_money(price)
    if price < sku.floor_price:
        raise BusinessRuleViolation(
            _("the price is below the supplier's floor of %(floor)s") % {"floor": sku.floor_price},
            code="price_below_floor", detail={"floor_price": str(sku.floor_price)})
    return price


def listing_create(*, store: Store, sku: SKU, price: Decimal) -> Listing:
    """A merchant picks a supplier SKU into its store at its own price (never below the SKU's floor)."""
    price = _check_price(sku, price)
    try:
        with transaction.atomic():
            return Listing.objects.create(store=store, sku=sku, price=price)
    except IntegrityError as error:
        raise Conflict(_("this SKU is already listed in the store"), code="already_listed") from error


def listing_set_price(*, listing: Listing, price: Decimal) -> Listing:
    listing.price = _check_price(listing.sku, price)
    listing.save(update_fields=["price", "updated_at"])
    return listing


def listing_update(*, listing_id: int, price: Decimal, status: str) -> Listing:
    """A merchant edits a listing: its price (never below the SKU's floor, checked by `catalogue.listing_set_price`)
    and whether it is on sale."""
    if status not in Listing.Status.values:
        raise ValidationFailed(_("unknown listing status"), code="invalid_listing_status")
    with transaction.atomic():
        listing = Listing.objects.select_for_update(of=("self",)).select_related("sku").filter(pk=listing_id).first()
        if listing is None:
            raise NotFound(_("no such listing"), code="listing_not_found")
        if price != listing.price:
            listing_set_price(listing=listing, price=price)
        if status != listing.status:
            listing.status = status
            listing.save(update_fields=["status", "updated_at"])
    return listing


def listing_view(*, listing: Listing, user=None, visitor_id: str = "") -> None:
    """A shopper (or an anonymous visitor, by device id) looked at a listing: a behaviour event for the
    recommender. High volume: read only by batch consumers, one INSERT in autocommit."""
    if user is None and not visitor_id:
        return
    record_event(kind="product_viewed", actor=user, visitor_id="" if user else visitor_id, target=listing,
                 payload={"sku_id": listing.sku_id})


def address_save(*, user, address_id: int | None = None, **fields) -> Address:
    region = Region.objects.filter(code=fields.pop("region_code", None)).first()
    if region is None:
        raise ValidationFailed(_("unknown province code"), code="invalid_region")
    with transaction.atomic():
        if address_id is None:
            if Address.objects.filter(user=user).count() >= MAX_ADDRESSES:
                raise BusinessRuleViolation(
                    _("the address book is full (%(count)s addresses)") % {"count": MAX_ADDRESSES},
                    code="address_book_full")
            address = Address(user=user)
        else:
            address = Address.objects.select_for_update().filter(pk=address_id, user=user).first()
            if address is None:
                raise NotFound(_("no such address"), code="address_not_found")
        make_default = fields.pop("is_default", False) or not Address.objects.filter(user=user).exists()
        for name, value in fields.items():
            setattr(address, name, value)
        address.region = region
        if make_default:
            Address.objects.filter(user=user, is_default=True).exclude(pk=address.pk).update(is_default=False)
            address.is_default = True
        address.save()
    return address


def address_delete(*, user, address_id: int) -> None:
    deleted, _by_model = Address.objects.filter(pk=address_id, user=user).delete()
    if not deleted:
        raise NotFound(_("no such address"), code="address_not_found")


def cart_add(*, user, listing_id: int, quantity: int) -> CartItem:
    listing = Listing.objects.filter(pk=listing_id, status=Listing.Status.ACTIVE).first()
    if listing is None:
        raise NotFound(_("no such listing, or it is off sale"), code="listing_not_found")
    with transaction.atomic():
        item, created = CartItem.objects.get_or_create(user=user, listing=listing,
                                                       defaults={"quantity": quantity})
        if not created:
            CartItem.objects.filter(pk=item.pk).update(quantity=F("quantity") + quantity)
            item.refresh_from_db()
        elif CartItem.objects.filter(user=user).count() > MAX_CART_ITEMS:
            raise BusinessRuleViolation(_("the cart is full"), code="cart_full")
        if item.quantity > MAX_CART_QUANTITY:
            raise ValidationFailed(_("at most %(count)s of one item") % {"count": MAX_CART_QUANTITY},
                                   code="invalid_quantity")
        record_event(kind="cart_item_added", actor=user, target=listing, payload={"quantity": quantity})
    return item


def cart_set_quantity(*, user, item_id: int, quantity: int) -> CartItem:
    item = CartItem.objects.filter(pk=item_id, user=user).first()
    if item is None:
        raise NotFound(_("no such cart item"), code="cart_item_not_found")
    item.quantity = quantity
    item.save(update_fields=["quantity", "updated_at"])
    return item


def cart_remove(*, user, item_id: int) -> None:
    deleted, _by_model = CartItem.objects.filter(pk=item_id, user=user).delete()
    if not deleted:
        raise NotFound(_("no such cart item"), code="cart_item_not_found")
