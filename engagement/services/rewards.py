"""The rewards catalogue (积分商城, 名片能量值兑换): redeeming a reward, fulfilling an item, saving rewards.

A redemption, in one transaction: lock the reward row, check the shopper's limit, take one from the stock by a
guarded UPDATE (`stock >= 1`), put the cost on hold (engagement/services/ledger.py), issue the coupon through the
mall's coupon service. Any refusal rolls all of it back. Idempotent on the shopper's key.
"""
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from engagement.models import Currency, Redemption, Reward
from engagement.services import ledger
from mall.services import coupons


def reward_redeem(*, user, reward_id: int, idempotency_key: str) -> tuple[Redemption, bool]:
    """Take one of a reward, paid in its currency. Returns (redemption, created); the same key again returns the
    first redemption."""
    existing = Redemption.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            reward = Reward.objects.select_for_update().filter(pk=reward_id, is_active=True).first()
            if reward is None:
                raise NotFound(_("no such reward, or it is off the shelf"), code="reward_not_found")
            taken = Redemption.objects.filter(user=user, reward=reward).count()
            if taken >= reward.per_user_limit:
                raise BusinessRuleViolation(_("you have redeemed this reward as often as allowed"),
                                            code="reward_limit_reached", detail={"limit": reward.per_user_limit})
            if not Reward.objects.filter(pk=reward.pk, stock__gte=1).update(stock=F("stock") - 1,
                                                                           updated_at=timezone.now()):
                raise BusinessRuleViolation(_("this reward is out of stock"), code="reward_out_of_stock")
            redemption = Redemption.objects.create(user=user, reward=reward, currency=reward.currency,
                                                   cost=reward.cost, idempotency_key=idempotency_key)
            ledger.spend_hold(user_id=user.pk, currency=reward.currency, amount=reward.cost,
                              reference=f"redemption:{redemption.pk}", reason="reward")
            if reward.kind == Reward.Kind.COUPON:
                redemption.user_coupon = coupons.coupon_claim(user=user, template_id=reward.coupon_template_id)
                redemption.save(update_fields=["user_coupon", "updated_at"])
    except IntegrityError:
        existing = Redemption.objects.filter(user=user, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing, False
    return redemption, True


def redemption_fulfil(*, redemption_id: int) -> Redemption:
    """Operator: the item was sent."""
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update().filter(pk=redemption_id).first()
        if redemption is None:
            raise NotFound(_("no such redemption"), code="redemption_not_found")
        if redemption.status != Redemption.Status.REDEEMED or redemption.user_coupon_id is not None:
            raise Conflict(_("only an item not sent yet can be marked sent"), code="redemption_not_pending",
                           detail={"status": redemption.status})
        redemption.status, redemption.fulfilled_at = Redemption.Status.FULFILLED, timezone.now()
        redemption.save(update_fields=["status", "fulfilled_at", "updated_at"])
    return redemption


def reward_save(*, reward: Reward) -> Reward:
    reward_validate(kind=reward.kind, currency=reward.currency, cost=reward.cost,
                    coupon_template=reward.coupon_template, stock=reward.stock)
    with transaction.atomic():
        reward.save()
    return reward


def reward_validate(*, kind: str, currency: str, cost, coupon_template, stock) -> None:
    """What an operator can get wrong in a reward, refused with its own code."""
    if kind not in Reward.Kind.values:
        raise ValidationFailed(_("unknown reward kind"), code="reward_kind_invalid")
    if currency not in (Currency.POINTS, Currency.ENERGY):
        raise ValidationFailed(_("rewards are paid in points or card energy"), code="reward_currency_invalid",
                               detail={"field": "currency"})
    if cost is None or cost < 1:
        raise ValidationFailed(_("the cost must be at least 1"), code="reward_cost_invalid",
                               detail={"field": "cost"})
    if kind == Reward.Kind.COUPON and coupon_template is None:
        raise ValidationFailed(_("a coupon reward needs a coupon template"), code="reward_coupon_required",
                               detail={"field": "coupon_template"})
    if kind == Reward.Kind.ITEM and coupon_template is not None:
        raise ValidationFailed(_("an item reward has no coupon template"), code="reward_coupon_not_allowed",
                               detail={"field": "coupon_template"})
    if stock is None or stock < 0:
        raise ValidationFailed(_("the stock cannot be negative"), code="reward_stock_invalid",
                               detail={"field": "stock"})
