"""Checkout arithmetic: what an order would cost. Reads only; `orders.order_submit` writes what this computes.

Order of operations (all Decimal, cents, half-up):
1. unit price = the listing price adjusted by the supplier's regional pricing rule for the shipping province (never
   below the SKU floor), or the group-buy / bargain price as it is (refused if below the SKU floor);
2. subtotal = sum of unit price x quantity;
3. shipping = per supplier (one shipment each): its template's rate for the province on the shipment's weight,
   free when the supplier's part of the subtotal reaches the rate's threshold;
4. coupon discount on the lines in the coupon's scope, prorated over those lines to the cent;
5. checkout adjustments registered by other apps (member level privileges, points: `adjustments`), in their order,
   each prorated over the lines like the coupon; none for a promotion's order (group-buy, bargain);
6. total = subtotal - discount + shipping.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, NotFound, ValidationFailed
from core.money import ZERO, allocate, to_money
from mall.coupon_rules import coupon_applies_to, coupon_discount
from mall.models import Address, Listing, Store, UserCoupon
from mall.services.adjustments import adjustments_apply
from supply.models import PricingRule, Product, Region, ShippingRate, Supplier
from supply.rules import pricing_rule_for, regional_unit_price, shipping_fee, shipping_rate_for

MAX_LINES = 50
MAX_QUANTITY = 999


@dataclass
class QuoteLine:
    listing: Listing
    quantity: int
    list_price: Decimal
    unit_price: Decimal
    line_subtotal: Decimal
    discount_share: Decimal = ZERO

    @property
    def paid_amount(self) -> Decimal:
        return self.line_subtotal - self.discount_share


@dataclass
class QuoteShipment:
    supplier: Supplier
    weight_grams: int
    subtotal: Decimal
    fee: Decimal


@dataclass
class Quote:
    store: Store
    region: Region
    address: Address | None
    lines: list[QuoteLine]
    shipments: list[QuoteShipment]
    coupon: UserCoupon | None
    subtotal: Decimal
    discount_total: Decimal
    shipping_fee: Decimal
    total: Decimal
    adjustments: list[dict] = field(default_factory=list)  # snapshot lines, as `Order.adjustments` keeps them


def _parse_lines(lines: list[dict]) -> dict[int, int]:
    if not lines:
        raise ValidationFailed(_("choose at least one item"), code="empty_order")
    if len(lines) > MAX_LINES:
        raise ValidationFailed(_("at most %(count)s lines") % {"count": MAX_LINES}, code="too_many_lines")
    quantities: dict[int, int] = defaultdict(int)
    for line in lines:
        quantities[line["listing_id"]] += line["quantity"]
    for listing_id, quantity in quantities.items():
        if quantity < 1 or quantity > MAX_QUANTITY:
            raise ValidationFailed(_("quantity must be 1..%(most)s") % {"most": MAX_QUANTITY},
                                   code="invalid_quantity", detail={"listing_id": listing_id})
    return dict(quantities)


def _load_listings(listing_ids: list[int]) -> dict[int, Listing]:
    # The product's long texts (search document and vector, description) are not needed to price an order.
    listings = {listing.pk: listing for listing in Listing.objects.filter(pk__in=listing_ids).select_related(
        "store", "sku__product__supplier", "sku__product__category").defer(
        "sku__product__search_document", "sku__product__search_vector", "sku__product__description",
        "sku__product__attributes", "store__description")}
    missing = sorted(set(listing_ids) - set(listings))
    if missing:
        raise NotFound(_("no such listing"), code="listing_not_found", detail={"listing_ids": missing})
    for listing in listings.values():
        product = listing.sku.product
        if (listing.status != Listing.Status.ACTIVE or product.status != Product.Status.ACTIVE
                or listing.store.status != Store.Status.OPEN
                or product.supplier.status != Supplier.Status.ACTIVE):
            raise BusinessRuleViolation(_("this item is no longer on sale"), code="listing_unavailable",
                                        detail={"listing_id": listing.pk})
    stores = {listing.store_id for listing in listings.values()}
    if len(stores) > 1:
        raise ValidationFailed(_("one order holds one store's items"),
                               code="mixed_stores")
    return listings


def coupon_check(*, coupon: UserCoupon, buyer, store: Store, at: datetime) -> None:
    template = coupon.template
    if coupon.user_id != buyer.pk:
        raise NotFound(_("no such coupon"), code="coupon_not_found")
    if coupon.status != UserCoupon.Status.AVAILABLE:
        raise BusinessRuleViolation(_("this coupon is already used"), code="coupon_used")
    if not (coupon.valid_from <= at < coupon.valid_to) or not template.is_active:
        raise BusinessRuleViolation(_("this coupon is not valid now"), code="coupon_expired")
    if template.store_id != store.pk:
        raise BusinessRuleViolation(_("this coupon is for another store"),
                                    code="coupon_not_applicable")


def quote_build(*, buyer, lines: list[dict], address_id: int | None = None, region_code: str | None = None,
                coupon_id: int | None = None, unit_price_override: dict[int, Decimal] | None = None,
                adjustments: dict | None = None, at: datetime | None = None) -> Quote:
    """Price an order. `unit_price_override` carries group-buy / bargain prices per listing; `adjustments` the
    client's options of the registered checkout adjustments (`{"points": 500}`)."""
    at = at or timezone.now()
    quantities = _parse_lines(lines)
    listings = _load_listings(list(quantities))
    store = next(iter(listings.values())).store

    address = None
    if address_id is not None:
        address = Address.objects.filter(pk=address_id, user=buyer).select_related("region").first()
        if address is None:
            raise NotFound(_("no such address"), code="address_not_found")
        region = address.region
    else:
        region = Region.objects.filter(code=region_code).first() if region_code else None
        if region is None:
            raise ValidationFailed(_("choose a shipping address"), code="address_required")

    supplier_ids = {listing.sku.product.supplier_id for listing in listings.values()}
    rules = list(PricingRule.objects.filter(supplier_id__in=supplier_ids))
    quote_lines: list[QuoteLine] = []
    for listing_id in sorted(quantities):
        listing = listings[listing_id]
        override = (unit_price_override or {}).get(listing_id)
        if override is not None:
            # A campaign price (group-buy, bargain) is final: regional rules adjust list prices only. Campaigns are
            # refused below the SKU's floor when they are set up; one the supplier's floor has risen above since is
            # refused here too, rather than charged at a price nobody set.
            unit = to_money(override)
            if unit < listing.sku.floor_price:
                raise BusinessRuleViolation(_("the campaign price is below the supplier's lowest price"),
                                            code="campaign_price_below_floor",
                                            detail={"listing_id": listing_id,
                                                    "sku_floor_price": str(listing.sku.floor_price)})
        else:
            rule = pricing_rule_for([r for r in rules if r.supplier_id == listing.sku.product.supplier_id],
                                    sku_id=listing.sku_id, region=region, at=at)
            unit = regional_unit_price(list_price=listing.price, floor_price=listing.sku.floor_price, rule=rule)
        quantity = quantities[listing_id]
        quote_lines.append(QuoteLine(listing=listing, quantity=quantity, list_price=listing.price,
                                     unit_price=unit, line_subtotal=to_money(unit * quantity)))
    subtotal = sum((line.line_subtotal for line in quote_lines), ZERO)

    shipments = _shipments(quote_lines, region)
    shipping_total = sum((s.fee for s in shipments), ZERO)

    coupon = None
    discount = ZERO
    if coupon_id is not None:
        coupon = (UserCoupon.objects.filter(pk=coupon_id).select_related("template")
                  .prefetch_related("template__categories", "template__listings").first())
        if coupon is None:
            raise NotFound(_("no such coupon"), code="coupon_not_found")
        coupon_check(coupon=coupon, buyer=buyer, store=store, at=at)
        eligible = [line for line in quote_lines if coupon_applies_to(coupon.template, line.listing)]
        eligible_subtotal = sum((line.line_subtotal for line in eligible), ZERO)
        discount = coupon_discount(coupon.template, eligible_subtotal)
        if discount <= 0:
            raise BusinessRuleViolation(_("the order does not reach the coupon's threshold"),
                                        code="coupon_threshold_not_met",
                                        detail={"threshold": str(coupon.template.threshold),
                                                "eligible_subtotal": str(eligible_subtotal)})
        for line, share in zip(eligible, allocate(discount, [line.line_subtotal for line in eligible]), strict=True):
            line.discount_share = share

    quote = Quote(store=store, region=region, address=address, lines=quote_lines, shipments=shipments,
                  coupon=coupon, subtotal=subtotal, discount_total=discount, shipping_fee=shipping_total,
                  total=subtotal - discount + shipping_total)
    if unit_price_override is None:
        adjustments_apply(buyer=buyer, quote=quote, options=adjustments)
    elif adjustments:
        raise ValidationFailed(_("a promotion's price takes no other discount"), code="adjustment_not_allowed")
    return quote


def _shipments(lines: list[QuoteLine], region: Region) -> list[QuoteShipment]:
    by_supplier: dict[int, list[QuoteLine]] = defaultdict(list)
    for line in lines:
        by_supplier[line.listing.sku.product.supplier_id].append(line)
    template_ids = {line.listing.sku.product.shipping_template_id for line in lines} - {None}
    rates_by_template: dict[int, list[ShippingRate]] = defaultdict(list)
    for rate in ShippingRate.objects.filter(template_id__in=template_ids):
        rates_by_template[rate.template_id].append(rate)
    shipments = []
    for supplier_id in sorted(by_supplier):
        supplier_lines = by_supplier[supplier_id]
        weight = sum(line.listing.sku.weight_grams * line.quantity for line in supplier_lines)
        part = sum((line.line_subtotal for line in supplier_lines), ZERO)
        # One shipment ships under one template: the first product's that has one.
        template_id = next((line.listing.sku.product.shipping_template_id for line in supplier_lines
                            if line.listing.sku.product.shipping_template_id), None)
        rate = shipping_rate_for(rates_by_template.get(template_id, []), region=region) if template_id else None
        shipments.append(QuoteShipment(supplier=supplier_lines[0].listing.sku.product.supplier,
                                       weight_grams=weight, subtotal=part,
                                       fee=shipping_fee(rate, weight_grams=weight, subtotal=part)))
    return shipments
