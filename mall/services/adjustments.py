"""The small explicit hook between checkout and the apps that change what an order costs beyond its coupon (member
level privileges, points): the mall knows none of them.

An app to the right of the mall registers a `CheckoutAdjustment` when its modules are imported (engagement does in
`EngagementConfig.ready`); checkout calls it through here:

- `price(buyer=, quote=, option=)` reads only, in `quotes.quote_build` (preview and submit alike), after the coupon,
  in `position` order: it answers an `Adjustment` (an amount off the goods, free shipping) or None, or refuses with
  a domain error. `option` is what the client sent under `adjustments.<name>` (None when it sent nothing); an
  adjustment that takes no option is refused one (`adjustment_unknown`);
- `place(order, line)` runs in the submit's transaction once the order row exists (the points are put on hold);
- `release(order, line)` runs in the transaction that cancels the unpaid order (the points come back).

The quote, the order's discount lines and refunds stay the mall's: an amount off the goods is prorated over the
lines into their `discount_share` exactly like a coupon (so a refund gives back what was paid for the units, the
adjustments already deducted), free shipping sets the shipments' fees to zero, and the order keeps a snapshot of
every adjustment in `Order.adjustments` (source, label, goods_off, shipping_off, data). What an adjustment does to
its own books when the order is refunded, it learns from the mall's events (`refund_succeeded`), like every other
app. Orders of a promotion (group-buy, bargain) are priced by their campaign: no adjustment applies to them.

An order without adjustment lines calls no `place` or `release`: only `price`, which reads what it must (the
buyer's member level: one statement, pinned by tests/mall/test_statement_counts.py).
"""
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from core.errors import ValidationFailed
from core.money import ZERO, allocate, to_money


@dataclass(frozen=True)
class Adjustment:
    """What an adjustment does to one quote."""

    source: str
    label: str
    goods_off: Decimal = ZERO
    free_shipping: bool = False
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckoutAdjustment:
    name: str
    price: Callable[..., Adjustment | None]
    position: int = 100
    takes_option: bool = False
    place: Callable[[Any, dict], None] | None = None
    release: Callable[[Any, dict], None] | None = None


_adjustments: dict[str, CheckoutAdjustment] = {}


def adjustment_register(adjustment: CheckoutAdjustment) -> None:
    _adjustments[adjustment.name] = adjustment


def adjustment_unregister(name: str) -> None:
    _adjustments.pop(name, None)


def adjustments_registered() -> list[CheckoutAdjustment]:
    return sorted(_adjustments.values(), key=lambda adjustment: (adjustment.position, adjustment.name))


def options_check(options: dict | None) -> dict:
    """The client's `adjustments` object: every key must name an adjustment that takes an option."""
    options = options or {}
    if not isinstance(options, dict):
        raise ValidationFailed(_("adjustments must be an object"), code="adjustment_invalid")
    known = {adjustment.name for adjustment in _adjustments.values() if adjustment.takes_option}
    unknown = sorted(str(name) for name in options if name not in known)
    if unknown:
        raise ValidationFailed(_("unknown checkout adjustment"), code="adjustment_unknown",
                               detail={"unknown": unknown, "known": sorted(known)})
    return options


def adjustments_apply(*, buyer, quote, options: dict | None) -> None:
    """Let every registered adjustment price the quote, in order, and apply what they answer to it."""
    options = options_check(options)
    for adjustment in adjustments_registered():
        line = adjustment.price(buyer=buyer, quote=quote, option=options.get(adjustment.name))
        if line is not None:
            _apply(quote, line)


def goods_payable(quote) -> Decimal:
    """What the goods of the quote still cost after the coupon and the adjustments applied so far."""
    return sum((line.line_subtotal - line.discount_share for line in quote.lines), ZERO)


def _apply(quote, adjustment: Adjustment) -> None:
    goods_off = to_money(adjustment.goods_off)
    payable = goods_payable(quote)
    if goods_off < 0 or goods_off > payable:
        raise ValueError(f"adjustment {adjustment.source} takes {goods_off} off goods payable {payable}")
    if goods_off > 0:
        for line, share in zip(quote.lines, allocate(goods_off, [line.line_subtotal - line.discount_share
                                                                  for line in quote.lines]), strict=True):
            line.discount_share += share
        quote.discount_total += goods_off
    shipping_off = ZERO
    if adjustment.free_shipping and quote.shipping_fee > 0:
        shipping_off = quote.shipping_fee
        for shipment in quote.shipments:
            shipment.fee = ZERO
        quote.shipping_fee = ZERO
    if goods_off == 0 and shipping_off == 0:
        return
    quote.total = quote.subtotal - quote.discount_total + quote.shipping_fee
    quote.adjustments.append({"source": adjustment.source, "label": str(adjustment.label),
                              "goods_off": str(goods_off), "shipping_off": str(shipping_off),
                              "data": adjustment.data})


def adjustments_placed(*, order) -> None:
    """In the submit's transaction: each adjustment line of the new order does what it must (points on hold)."""
    for line in order.adjustments:
        adjustment = _adjustments.get(line["source"])
        if adjustment is None:
            raise RuntimeError(f"no checkout adjustment registered as {line['source']!r}")
        if adjustment.place is not None:
            adjustment.place(order, line)


def adjustments_released(*, order) -> None:
    """In the transaction that cancels an unpaid order: each adjustment line gives back what it held."""
    for line in order.adjustments:
        adjustment = _adjustments.get(line["source"])
        if adjustment is None:
            raise RuntimeError(f"no checkout adjustment registered as {line['source']!r}")
        if adjustment.release is not None:
            adjustment.release(order, line)
