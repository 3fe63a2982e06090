"""The small explicit hook between orders and the promotions built on them (group-buys, bargains).

Orders do not know the promotions. An order's `kind` names the promotion it was placed for; each promotion module
registers what it does when such an order is paid or released, and orders and payments call it through here:

- `holds_paid_orders`: a paid order waits in `grouping` until the promotion lets it ship (a group-buy team fills);
- `on_paid(order)`: in the payment's transaction, after the order is marked paid (the team counts its member);
- `on_released(order)`: in the transaction that cancels an unpaid order (the seat or the bargain comes back).

Registration happens when the promotion modules are imported, which `MallConfig.ready` does in every process; an
order of a kind nobody registered is a programming error and fails loudly.
"""
from collections.abc import Callable
from dataclasses import dataclass

from mall.models import Order


@dataclass(frozen=True)
class Promotion:
    kind: str
    holds_paid_orders: bool = False
    on_paid: Callable[[Order], None] | None = None
    on_released: Callable[[Order], None] | None = None


_promotions: dict[str, Promotion] = {}


def promotion_register(promotion: Promotion) -> None:
    _promotions[promotion.kind] = promotion


def promotion_for(order: Order) -> Promotion | None:
    if order.kind == Order.Kind.NORMAL:
        return None
    promotion = _promotions.get(order.kind)
    if promotion is None:
        raise RuntimeError(f"no promotion registered for orders of kind {order.kind!r}")
    return promotion


def paid_status(order: Order) -> str:
    """The status a paid order moves to: `grouping` while its promotion holds it, else `paid`."""
    promotion = promotion_for(order)
    return Order.Status.GROUPING if promotion and promotion.holds_paid_orders else Order.Status.PAID


def order_paid(order: Order) -> None:
    promotion = promotion_for(order)
    if promotion and promotion.on_paid:
        promotion.on_paid(order)


def order_released(order: Order) -> None:
    promotion = promotion_for(order)
    if promotion and promotion.on_released:
        promotion.on_released(order)
