"""Coupons: templates (set up by merchants, validated here), claiming (per-user limit, total quantity) and
restoring. Locking and use happen in orders/payments."""
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, NotFound, ValidationFailed
from core.events import record_event
from core.money import ZERO, to_money
from mall.models import CouponTemplate, Store, UserCoupon


def coupon_claim(*, user, template_id: int) -> UserCoupon:
    """Claim one coupon of a template. The per-user count is checked under the template's row lock; the total is
    guarded by a conditional UPDATE and a check constraint, so a template is never over-issued."""
    now = timezone.now()
    with transaction.atomic():
        template = CouponTemplate.objects.select_for_update().filter(pk=template_id).first()
        if template is None or not template.is_active:
            raise NotFound(_("no such coupon, or it is switched off"), code="coupon_not_found")
        if template.validity == CouponTemplate.Validity.FIXED and template.valid_to <= now:
            raise BusinessRuleViolation(_("this coupon has expired"), code="coupon_expired")
        if UserCoupon.objects.filter(template=template, user=user).count() >= template.per_user_limit:
            raise BusinessRuleViolation(_("claim limit of %(limit)s reached") % {"limit": template.per_user_limit},
                                        code="coupon_claim_limit", detail={"limit": template.per_user_limit})
        if not CouponTemplate.objects.filter(pk=template.pk, claimed_count__lt=F("total_quantity")).update(
                claimed_count=F("claimed_count") + 1):
            raise BusinessRuleViolation(_("all coupons have been claimed"), code="coupon_sold_out")
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


# --- templates (merchant console) -------------------------------------------------------------------------------
K = CouponTemplate.Kind
SC = CouponTemplate.Scope
V = CouponTemplate.Validity
MONEY_LIMIT = Decimal("9999999999.99")  # what DecimalField(max_digits=12, decimal_places=2) holds


def _refuse(message: str, code: str, **detail) -> ValidationFailed:
    return ValidationFailed(message, code=code, detail=detail or None)


def _money(value, *, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = to_money(value)
    except (TypeError, ValueError, ArithmeticError) as error:
        raise _refuse(_("not an amount of money"), "coupon_amount_invalid", field=field) from error
    if amount != Decimal(value) or abs(amount) > MONEY_LIMIT:
        raise _refuse(_("amounts have at most two decimal places"), "coupon_amount_invalid",
                      field=field)
    return amount


def _whole(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _coupon_template_values(*, store: Store, name: str, kind: str, amount_off, threshold, percent_off, max_discount,
                            scope: str, categories, listings, per_user_limit, total_quantity, validity: str,
                            valid_from, valid_to, valid_days, is_active: bool, creating: bool) -> dict:
    """Everything a merchant can get wrong in a coupon template, refused with its own code; the clean values."""
    name = (name or "").strip()
    if not name:
        raise _refuse(_("give the coupon a name"), "coupon_name_required")
    if kind not in K.values:
        raise _refuse(_("unknown coupon kind"), "coupon_kind_invalid", kinds=list(K.values))
    amount_off = _money(amount_off, field="amount_off")
    threshold = _money(threshold, field="threshold") or ZERO
    max_discount = _money(max_discount, field="max_discount")
    if threshold < 0:
        raise _refuse(_("the threshold cannot be negative"), "coupon_threshold_invalid")
    if kind == K.PERCENTAGE:
        if amount_off is not None:
            raise _refuse(_("a percentage coupon has a percent off, not an amount off"),
                          "coupon_kind_value_mismatch", field="amount_off")
        if percent_off is None or _whole(percent_off) is None or not 1 <= percent_off <= 99:
            raise _refuse(_("percent off must be 1..99"), "coupon_percent_off_invalid")
        if max_discount is not None and max_discount <= 0:
            raise _refuse(_("the cap must be above zero"), "coupon_cap_invalid")
    else:
        if percent_off is not None or max_discount is not None:
            raise _refuse(_("an amount-off coupon has no percent off and no cap"), "coupon_kind_value_mismatch",
                          field="percent_off" if percent_off is not None else "max_discount")
        if amount_off is None or amount_off <= 0:
            raise _refuse(_("the amount off must be above zero"), "coupon_amount_off_invalid")
        if kind == K.THRESHOLD and threshold < amount_off:
            raise _refuse(_("a threshold coupon's threshold must be at least its amount off"),
                          "coupon_threshold_below_amount",
                          threshold=str(threshold), amount_off=str(amount_off))
        if kind == K.NO_THRESHOLD and threshold > 0:
            raise _refuse(_("a no-threshold coupon has no threshold"),
                          "coupon_threshold_not_allowed")

    if validity not in V.values:
        raise _refuse(_("unknown validity"), "coupon_validity_invalid", validities=list(V.values))
    if validity == V.FIXED:
        if valid_days is not None:
            raise _refuse(_("a fixed-window coupon has no days from claim"),
                          "coupon_validity_mismatch", field="valid_days")
        if valid_from is None or valid_to is None or valid_from >= valid_to:
            raise _refuse(_("give a validity window that starts before it ends"),
                          "coupon_window_invalid")
        if creating and valid_to <= timezone.now():
            raise _refuse(_("the validity window is already over"), "coupon_window_ended")
    else:
        if valid_from is not None or valid_to is not None:
            raise _refuse(_("a days-from-claim coupon has no fixed window"),
                          "coupon_validity_mismatch", field="valid_from" if valid_from is not None else "valid_to")
        if _whole(valid_days) is None or valid_days < 1:
            raise _refuse(_("valid for at least one day from claim"), "coupon_valid_days_invalid")

    categories, listings = list(categories or ()), list(listings or ())
    if scope not in SC.values:
        raise _refuse(_("unknown scope"), "coupon_scope_invalid", scopes=list(SC.values))
    if (scope != SC.CATEGORY and categories) or (scope != SC.LISTINGS and listings):
        raise _refuse(_("the chosen categories or listings do not match the scope"),
                      "coupon_scope_mismatch", field="categories" if categories and scope != SC.CATEGORY
                      else "listings")
    if scope == SC.CATEGORY and not categories:
        raise _refuse(_("choose the categories"), "coupon_scope_empty", field="categories")
    if scope == SC.LISTINGS and not listings:
        raise _refuse(_("choose the listings"), "coupon_scope_empty", field="listings")
    foreign = sorted(listing.pk for listing in listings if listing.store_id != store.pk)
    if foreign:
        raise BusinessRuleViolation(_("only listings of this store"),
                                    code="coupon_listing_not_in_store", detail={"listing_ids": foreign})

    if _whole(per_user_limit) is None or per_user_limit < 1:
        raise _refuse(_("at least one per person"), "coupon_per_user_limit_invalid")
    if _whole(total_quantity) is None or total_quantity < 1:
        raise _refuse(_("issue at least one coupon"), "coupon_total_invalid")
    return {"values": {"name": name[:64], "kind": kind, "amount_off": amount_off, "threshold": threshold,
                       "percent_off": percent_off, "max_discount": max_discount, "scope": scope,
                       "per_user_limit": per_user_limit, "total_quantity": total_quantity, "validity": validity,
                       "valid_from": valid_from, "valid_to": valid_to, "valid_days": valid_days,
                       "is_active": bool(is_active)},
            "categories": categories, "listings": listings}


def coupon_template_create(*, store: Store, name: str, kind: str, total_quantity: int, amount_off=None,
                           threshold=ZERO, percent_off: int | None = None, max_discount=None, scope: str = SC.ALL,
                           categories=(), listings=(), per_user_limit: int = 1, validity: str = V.FIXED,
                           valid_from=None, valid_to=None, valid_days: int | None = None,
                           is_active: bool = True) -> CouponTemplate:
    """A merchant sets up a coupon template of its store, refused (with a code per mistake) unless it makes sense."""
    checked = _coupon_template_values(
        store=store, name=name, kind=kind, amount_off=amount_off, threshold=threshold, percent_off=percent_off,
        max_discount=max_discount, scope=scope, categories=categories, listings=listings,
        per_user_limit=per_user_limit, total_quantity=total_quantity, validity=validity, valid_from=valid_from,
        valid_to=valid_to, valid_days=valid_days, is_active=is_active, creating=True)
    with transaction.atomic():
        template = CouponTemplate.objects.create(store=store, **checked["values"])
        template.categories.set(checked["categories"])
        template.listings.set(checked["listings"])
    return template


def coupon_template_update(*, template_id: int, name: str, kind: str, total_quantity: int, amount_off=None,
                           threshold=ZERO, percent_off: int | None = None, max_discount=None, scope: str = SC.ALL,
                           categories=(), listings=(), per_user_limit: int = 1, validity: str = V.FIXED,
                           valid_from=None, valid_to=None, valid_days: int | None = None, is_active: bool = True,
                           store: Store | None = None) -> CouponTemplate:
    """A merchant edits a coupon template (of `store`, when given), with the checks of `coupon_template_create`.

    The total may not drop below what shoppers have claimed: a conditional UPDATE against the claim counter, which
    `coupon_claim` moves concurrently (the counter itself is never written back from here)."""
    with transaction.atomic():
        template = CouponTemplate.objects.filter(pk=template_id, **({"store": store} if store else {})).first()
        if template is None:
            raise NotFound(_("no such coupon"), code="coupon_not_found")
        checked = _coupon_template_values(
            store=template.store, name=name, kind=kind, amount_off=amount_off, threshold=threshold,
            percent_off=percent_off, max_discount=max_discount, scope=scope, categories=categories,
            listings=listings, per_user_limit=per_user_limit, total_quantity=total_quantity, validity=validity,
            valid_from=valid_from, valid_to=valid_to, valid_days=valid_days, is_active=is_active, creating=False)
        if not CouponTemplate.objects.filter(pk=template.pk, claimed_count__lte=total_quantity).update(
                **checked["values"], updated_at=timezone.now()):
            claimed = CouponTemplate.objects.filter(pk=template.pk).values_list("claimed_count", flat=True).first()
            raise BusinessRuleViolation(
                _("the total cannot be below the %(claimed)s already claimed") % {"claimed": claimed},
                code="coupon_total_below_claimed", detail={"claimed": claimed})
        template.categories.set(checked["categories"])
        template.listings.set(checked["listings"])
        template.refresh_from_db()
    return template
