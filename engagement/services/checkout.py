"""Member privileges and points at checkout, through the mall's adjustment hook (mall/services/adjustments.py);
registered when this module is imported (`EngagementConfig.ready`).

- `member_level` (first): the buyer's level takes its `discount_percent` off the goods (after the coupon) and, with
  `free_shipping`, waives the shipping. It reads the buyer's membership: one statement per order.
- `points` (last), the client's option `{"points": N}`: N points are worth N / ENGAGEMENT_POINTS_PER_YUAN yuan
  (100 points = 1 yuan by default) off the goods; at most ENGAGEMENT_POINTS_MAX_SHARE of the payable, never more
  than the goods still cost, and at least 0.01 yuan is left to pay (a payment provider cannot take zero). N must
  convert to whole cents. On submit the points are put on hold in the order's transaction (ledger.spend_hold,
  reference `order:<id>`), so the order and its points stand or fall together; a cancelled unpaid order releases
  them in the cancel's transaction.
- Refunds stay the mall's: the points' share of each line is in its `discount_share`, so a refund pays back the
  money paid for the units. The points come back by the engine reacting to `refund_succeeded` (in event order, so
  a replay gives them back again at the same place): floor(points x refunded / the order's goods payable), all of
  them once the goods are refunded; the points the order earned are taken back the same way.
"""
from decimal import ROUND_DOWN, Decimal
from math import gcd

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, ValidationFailed
from core.money import CENT, ZERO, to_money
from engagement.models import Currency, Membership
from engagement.services import ledger
from mall.services.adjustments import Adjustment, CheckoutAdjustment, adjustment_register, goods_payable

MEMBER_LEVEL = "member_level"
POINTS = "points"
MAX_POINTS = 10**9


def points_step() -> int:
    """The smallest number of points that is worth whole cents (1 at 100 points a yuan)."""
    ratio = settings.ENGAGEMENT_POINTS_PER_YUAN
    return ratio // gcd(ratio, 100)


def points_value(points: int) -> Decimal:
    return (Decimal(points) / settings.ENGAGEMENT_POINTS_PER_YUAN).quantize(CENT, rounding=ROUND_DOWN)


def points_cap(*, payable: Decimal, goods: Decimal) -> int:
    """The most points an order whose payable is `payable` (goods still costing `goods`) may use."""
    share = (payable * settings.ENGAGEMENT_POINTS_MAX_SHARE).quantize(CENT, rounding=ROUND_DOWN)
    most = max(min(share, goods, payable - CENT), ZERO)
    points = int(most * settings.ENGAGEMENT_POINTS_PER_YUAN)
    return points - points % points_step()


def member_level_price(*, buyer, quote, option) -> Adjustment | None:
    membership = Membership.objects.filter(user_id=buyer.pk).select_related("level").first()
    level = membership.level if membership is not None else None
    if level is None or (not level.discount_percent and not level.free_shipping):
        return None
    goods_off = to_money(goods_payable(quote) * level.discount_percent / 100) if level.discount_percent else ZERO
    return Adjustment(source=MEMBER_LEVEL, label=f"会员权益 {level.name}", goods_off=goods_off,
                      free_shipping=level.free_shipping,
                      data={"level": level.rank, "discount_percent": level.discount_percent,
                            "free_shipping": level.free_shipping})


def points_price(*, buyer, quote, option) -> Adjustment | None:
    if option is None:
        return None
    if not isinstance(option, int) or isinstance(option, bool) or not 1 <= option <= MAX_POINTS:
        raise ValidationFailed(_("points must be a whole number from 1"), code="points_invalid")
    step = points_step()
    if option % step:
        raise ValidationFailed(_("use points in steps of %(step)s") % {"step": step}, code="points_not_whole_cents",
                               detail={"step": step})
    cap = points_cap(payable=quote.total, goods=goods_payable(quote))
    if option > cap:
        raise BusinessRuleViolation(_("this order can use at most %(cap)s points") % {"cap": cap},
                                    code="points_over_cap", detail={"max_points": cap})
    available = ledger.available_of(user_id=buyer.pk, currency=Currency.POINTS).spendable
    if option > available:
        raise ledger.InsufficientBalance(_("not enough points"), code="points_insufficient",
                                         detail={"available": available, "asked": option})
    return Adjustment(source=POINTS, label=f"积分抵扣 {option} points", goods_off=points_value(option),
                      data={"points": option})


def points_place(order, line: dict) -> None:
    try:
        ledger.spend_hold(user_id=order.buyer_id, currency=Currency.POINTS, amount=line["data"]["points"],
                          reference=f"order:{order.pk}", reason="checkout", base=order.total - order.shipping_fee)
    except ledger.InsufficientBalance as refusal:  # spent elsewhere since the quote read the balance
        raise ledger.InsufficientBalance(_("not enough points"), code="points_insufficient",
                                         detail=refusal.detail) from refusal


def points_release(order, line: dict) -> None:
    ledger.spend_release(currency=Currency.POINTS, reference=f"order:{order.pk}")


adjustment_register(CheckoutAdjustment(name=MEMBER_LEVEL, price=member_level_price, position=10))
adjustment_register(CheckoutAdjustment(name=POINTS, price=points_price, position=90, takes_option=True,
                                       place=points_place, release=points_release))
