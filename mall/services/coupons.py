"""Coupons: claiming (per-user limit, total quantity) and restoring. Locking and use happen in orders/payments."""
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import BusinessRuleViolation, NotFound
from core.events import record_event
from mall.models import CouponTemplate, UserCoupon


def coupon_claim(*, user, template_id: int) -> UserCoupon:
    """Claim one coupon of a template. The per-user count is checked under the template's row lock; the total is
    guarded by a conditional UPDATE and a check constraint, so a template is never over-issued."""
    now = timezone.now()
    with transaction.atomic():
        template = CouponTemplate.objects.select_for_update().filter(pk=template_id).first()
        if template is None or not template.is_active:
            raise NotFound("优惠券不存在或已停用 (no such coupon)", code="coupon_not_found")
        if template.validity == CouponTemplate.Validity.FIXED and template.valid_to <= now:
            raise BusinessRuleViolation("优惠券已过期 (this coupon has expired)", code="coupon_expired")
        if UserCoupon.objects.filter(template=template, user=user).count() >= template.per_user_limit:
            raise BusinessRuleViolation(f"每人限领 {template.per_user_limit} 张 (claim limit reached)",
                                        code="coupon_claim_limit", detail={"limit": template.per_user_limit})
        if not CouponTemplate.objects.filter(pk=template.pk, claimed_count__lt=F("total_quantity")).update(
                claimed_count=F("claimed_count") + 1):
            raise BusinessRuleViolation("优惠券已领完 (all coupons have been claimed)", code="coupon_sold_out")
        if template.validity == CouponTemplate.Validity.FIXED:
            valid_from, valid_to = template.valid_from, template.valid_to
        else:
            valid_from, valid_to = now, now + timedelta(days=template.valid_days)
        coupon = UserCoupon.objects.create(template=template, user=user, valid_from=valid_from, valid_to=valid_to)
        record_event(kind="coupon_claimed", actor=user, target=coupon, payload={"template_id": template.pk})
    return coupon


def coupon_restore(*, coupon_id: int) -> bool:
    """Give a used coupon back (its order was refunded in full). True if it came back."""
    return bool(UserCoupon.objects.filter(pk=coupon_id, status=UserCoupon.Status.USED).update(
        status=UserCoupon.Status.AVAILABLE, order=None, used_at=None, updated_at=timezone.now()))
