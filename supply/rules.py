"""Pure pricing and shipping rules (no ORM writes): regional price of a SKU, shipping fee of a shipment."""
import math
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from core.money import ZERO, to_money
from supply.models import PricingRule, Region, ShippingRate


def pricing_rule_for(rules: Iterable[PricingRule], *, sku_id: int, region: Region, at: datetime) -> PricingRule | None:
    """The rule that applies: valid at `at`, for this SKU or all of the supplier's SKUs, for the province or its tier.
    Most specific wins: SKU before supplier-wide, province before tier; then the newest."""
    candidates = []
    for rule in rules:
        if rule.sku_id not in (None, sku_id):
            continue
        if rule.region_id is not None and rule.region_id != region.code:
            continue
        if rule.region_id is None and rule.tier != region.tier:
            continue
        if (rule.valid_from and rule.valid_from > at) or (rule.valid_to and rule.valid_to <= at):
            continue
        candidates.append(rule)
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.sku_id is not None, r.region_id is not None, r.created_at or at))


def regional_unit_price(*, list_price: Decimal, floor_price: Decimal, rule: PricingRule | None) -> Decimal:
    """The unit price in a region. Never below the supplier's floor."""
    if rule is None:
        price = list_price
    elif rule.mode == PricingRule.Mode.PRICE:
        price = rule.value
    else:
        price = list_price * rule.value
    return max(to_money(price), to_money(floor_price))


def shipping_rate_for(rates: Iterable[ShippingRate], *, region: Region) -> ShippingRate | None:
    """Province list first, then the tier, then the default rate (no provinces, no tier)."""
    rates = list(rates)
    for rate in rates:
        if region.code in (rate.region_codes or []):
            return rate
    for rate in rates:
        if not rate.region_codes and rate.tier == region.tier:
            return rate
    for rate in rates:
        if not rate.region_codes and rate.tier is None:
            return rate
    return None


def shipping_fee(rate: ShippingRate | None, *, weight_grams: int, subtotal: Decimal) -> Decimal:
    """First weight at the first fee, each started extra step at the extra fee; free at or above the threshold.
    No template means free shipping."""
    if rate is None:
        return ZERO
    if rate.free_threshold is not None and subtotal >= rate.free_threshold:
        return ZERO
    extra_grams = max(weight_grams - rate.first_weight_grams, 0)
    steps = math.ceil(extra_grams / rate.extra_weight_grams)
    return to_money(rate.first_fee + rate.extra_fee * steps)
