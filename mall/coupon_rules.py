"""What a coupon takes off and which listings it covers: pure rules over rows already loaded, shared by the checkout
quote (`mall.services.quotes`) and the cart's coupon offers (`mall.selectors.cart_coupons`), so both apply them
the same way and neither imports the other."""
from decimal import Decimal

from core.money import ZERO, to_money
from mall.models import CouponTemplate, Listing


def coupon_discount(template: CouponTemplate, eligible_subtotal: Decimal) -> Decimal:
    """The discount a coupon gives on the part of the order in its scope (0 when the threshold is not met)."""
    if eligible_subtotal <= 0 or eligible_subtotal < template.threshold:
        return ZERO
    if template.kind == CouponTemplate.Kind.PERCENTAGE:
        discount = to_money(eligible_subtotal * Decimal(template.percent_off) / 100)
        if template.max_discount is not None:
            discount = min(discount, template.max_discount)
    else:
        discount = template.amount_off
    return min(to_money(discount), eligible_subtotal)


def coupon_applies_to(template: CouponTemplate, listing: Listing) -> bool:
    if template.scope == CouponTemplate.Scope.ALL:
        return True
    if template.scope == CouponTemplate.Scope.CATEGORY:
        category = listing.sku.product.category
        scope_ids = {c.pk for c in template.categories.all()}
        return category.pk in scope_ids or category.parent_id in scope_ids
    return listing.pk in {item.pk for item in template.listings.all()}
