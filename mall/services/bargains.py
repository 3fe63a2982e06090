"""Bargain (砍价): a shopper opens a session on a campaign and shares it; each friend who helps cuts the price by a
random amount; the price reaches the floor exactly at the campaign's N-th helper and never goes below it; the owner
then buys one unit at the session's price.

Helps on one session are serialised by a row lock on the session, so concurrent helpers never exceed the number
needed and the last one lands exactly on the floor. One help per helper and one live session per owner and campaign
are unique constraints in the database.

An order placed from a session that is later cancelled unpaid gives the session back (`bargain_release_for_order`,
the promotion hook orders call when they release an unpaid order's holds): floor_reached or active again if still
within its window and the owner has no other live session of that campaign, otherwise expired.
"""
import random
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from core.events import record_event
from core.money import CENT, to_money
from mall.models import BargainCampaign, BargainHelp, BargainSession, Listing, Order
from mall.services import locks
from mall.services.orders import order_submit
from mall.services.promotions import Promotion, promotion_register

St = BargainSession.Status
LIVE = (St.ACTIVE, St.FLOOR_REACHED)
RATIO_STEP = Decimal("0.001")  # the cut ratio fields hold three decimal places

# Helpers' cuts must be unpredictable to the shopper (no guessing which friend cuts the most).
_system_random = random.SystemRandom()


class BargainClosed(BusinessRuleViolation):
    code = "bargain_closed"
    message = _("this bargain is over")


# --- pure arithmetic --------------------------------------------------------------------------------------------
def bargain_cut(*, remaining: Decimal, helpers_left: int, min_ratio: Decimal, max_ratio: Decimal,
                rng: random.Random) -> Decimal:
    """How much one helper cuts when `remaining` (current price - floor) is left for `helpers_left` helpers.

    The last helper cuts exactly what is left. Others cut the fair share remaining / helpers_left scaled by a ratio
    drawn uniformly from [min_ratio, max_ratio] (in steps of 0.001), rounded half-up to the cent, then clamped so
    that this helper cuts at least one cent and every later helper can still cut at least one cent.
    """
    remaining = to_money(remaining)
    if helpers_left < 1 or remaining < CENT * helpers_left:
        raise ValueError(f"cannot split {remaining} over {helpers_left} helpers at one cent or more each")
    if helpers_left == 1:
        return remaining
    low, high = int(min_ratio / RATIO_STEP), int(max_ratio / RATIO_STEP)
    ratio = Decimal(rng.randint(low, high)) * RATIO_STEP
    cut = (remaining / helpers_left * ratio).quantize(CENT, rounding=ROUND_HALF_UP)
    most = remaining - CENT * (helpers_left - 1)
    return min(max(cut, CENT), most)


# --- campaigns --------------------------------------------------------------------------------------------------
def bargain_campaign_create(*, listing: Listing, floor_price: Decimal, helpers_needed: int, window_hours: int = 24,
                            starts_at, ends_at, allow_buy_at_current_price: bool = False,
                            min_cut_ratio: Decimal = Decimal("0.2"),
                            max_cut_ratio: Decimal = Decimal("1.8")) -> BargainCampaign:
    """Create a bargain campaign on a listing, refusing one whose price cannot reach its floor in N cuts."""
    try:
        floor_price = to_money(floor_price)
        min_cut_ratio, max_cut_ratio = Decimal(min_cut_ratio), Decimal(max_cut_ratio)
    except (TypeError, ValueError, ArithmeticError) as error:
        raise ValidationFailed(_("invalid amount or ratio"), code="bargain_invalid") from error
    if helpers_needed < 1:
        raise ValidationFailed(_("at least one helper"), code="bargain_helpers_invalid")
    if window_hours < 1:
        raise ValidationFailed(_("the window is at least one hour"), code="bargain_window_invalid")
    if ends_at <= starts_at:
        raise ValidationFailed(_("ends_at must be after starts_at"), code="bargain_dates_invalid")
    if not (0 < min_cut_ratio <= max_cut_ratio < 10) or min_cut_ratio % RATIO_STEP or max_cut_ratio % RATIO_STEP:
        raise ValidationFailed("砍价比例须满足 0 < 最小 ≤ 最大 < 10，最多三位小数 (0 < min ≤ max < 10, 3 decimals)",
                               code="bargain_ratio_invalid")
    if floor_price < listing.sku.floor_price:
        raise BusinessRuleViolation(_("the floor is below the supplier's lowest price"),
                                    code="bargain_floor_below_sku_floor",
                                    detail={"sku_floor_price": str(listing.sku.floor_price)})
    if floor_price >= listing.price:
        raise BusinessRuleViolation(_("the floor must be below the listing price"),
                                    code="bargain_floor_not_below_price", detail={"price": str(listing.price)})
    if listing.price - floor_price < CENT * helpers_needed:
        raise BusinessRuleViolation(_("each helper must be able to cut a cent"),
                                    code="bargain_spread_too_small",
                                    detail={"spread": str(listing.price - floor_price), "helpers": helpers_needed})
    with transaction.atomic():
        campaign = BargainCampaign.objects.create(
            listing=listing, floor_price=floor_price, helpers_needed=helpers_needed, window_hours=window_hours,
            starts_at=starts_at, ends_at=ends_at, allow_buy_at_current_price=allow_buy_at_current_price,
            min_cut_ratio=min_cut_ratio, max_cut_ratio=max_cut_ratio)
        record_event(kind="bargain_campaign_created", target=campaign,
                     payload={"listing_id": listing.pk, "floor_price": floor_price, "helpers_needed": helpers_needed})
    return campaign


def bargain_campaigns_running() -> QuerySet[BargainCampaign]:
    now = timezone.now()
    return (BargainCampaign.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now,
                                           listing__status=Listing.Status.ACTIVE)
            .select_related("listing__store", "listing__sku__product__category", "listing__sku__stock")
            .prefetch_related("listing__sku__product__images").order_by("ends_at", "pk"))


# --- sessions ---------------------------------------------------------------------------------------------------
def bargain_session_get(*, session_id: int) -> BargainSession:
    session = (BargainSession.objects.select_related("campaign__listing__sku__product", "owner")
               .filter(pk=session_id).first())
    if session is None:
        raise NotFound(_("no such bargain"), code="bargain_not_found")
    return session


def bargain_session_helps(*, session: BargainSession) -> QuerySet[BargainHelp]:
    return session.helps.select_related("helper").order_by("created_at", "pk")


def bargain_open(*, owner, campaign_id: int) -> BargainSession:
    """Start bargaining on a campaign; returns the owner's live session of that campaign if there is one."""
    now = timezone.now()
    live = BargainSession.objects.filter(campaign_id=campaign_id, owner=owner, status__in=LIVE).first()
    if live is not None:
        if live.expires_at > now:
            return live
        _expire(live.pk)  # past its window but not yet swept: it must not block a new session
    campaign = BargainCampaign.objects.select_related("listing__sku").filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound(_("no such bargain campaign"), code="bargain_campaign_not_found")
    listing = campaign.listing
    if not campaign.is_active or not (campaign.starts_at <= now < campaign.ends_at):
        raise BusinessRuleViolation(_("the campaign is not running"),
                                    code="bargain_campaign_closed")
    if listing.status != Listing.Status.ACTIVE or listing.price - campaign.floor_price < CENT * campaign.helpers_needed:
        # The listing was taken down or its price lowered since the campaign was set up.
        raise BusinessRuleViolation(_("this item cannot be bargained now"),
                                    code="bargain_unavailable", detail={"listing_id": listing.pk})
    # A session never outlives its campaign.
    expires_at = min(now + timedelta(hours=campaign.window_hours), campaign.ends_at)
    try:
        with transaction.atomic():
            session = BargainSession.objects.create(
                campaign=campaign, owner=owner, start_price=listing.price, floor_price=campaign.floor_price,
                current_price=listing.price, helpers_needed=campaign.helpers_needed, expires_at=expires_at)
            record_event(kind="bargain_opened", actor=owner, target=session,
                         payload={"campaign_id": campaign.pk, "listing_id": listing.pk,
                                  "start_price": session.start_price, "floor_price": session.floor_price})
    except IntegrityError:
        # A concurrent open by the same owner won the one-live-session constraint: its session is the answer.
        live = BargainSession.objects.filter(campaign_id=campaign_id, owner=owner, status__in=LIVE).first()
        if live is None:
            raise
        return live
    return session


def bargain_help(*, session_id: int, helper, rng: random.Random | None = None) -> BargainHelp:
    """Cut the price of someone else's session once. `rng` is for tests; production draws from the OS."""
    try:
        with transaction.atomic():
            session = locks.bargain_session_for_update(pk=session_id)
            if session is None:
                raise NotFound(_("no such bargain"), code="bargain_not_found")
            if session.owner_id == helper.pk:
                raise BusinessRuleViolation(_("you cannot help your own bargain"),
                                            code="bargain_self_help")
            if session.status != St.ACTIVE or session.expires_at <= timezone.now():
                raise BargainClosed(detail={"status": session.status})
            if BargainHelp.objects.filter(session=session, helper=helper).exists():
                raise BusinessRuleViolation(_("you have already helped"), code="bargain_already_helped")
            campaign = BargainCampaign.objects.only("min_cut_ratio", "max_cut_ratio").get(pk=session.campaign_id)
            cut = bargain_cut(remaining=session.current_price - session.floor_price,
                              helpers_left=session.helpers_needed - session.helper_count,
                              min_ratio=campaign.min_cut_ratio, max_ratio=campaign.max_cut_ratio,
                              rng=rng or _system_random)
            price_after = session.current_price - cut
            last = session.helper_count + 1 == session.helpers_needed
            changed = BargainSession.objects.filter(
                pk=session.pk, status=St.ACTIVE, helper_count=session.helper_count,
                current_price=session.current_price,
            ).update(current_price=price_after, helper_count=F("helper_count") + 1,
                     status=St.FLOOR_REACHED if last else St.ACTIVE, updated_at=timezone.now())
            if not changed:  # cannot happen under the row lock; refuse rather than cut twice
                raise Conflict(_("the bargain changed meanwhile"), code="bargain_state_changed")
            bargain_help_row = BargainHelp.objects.create(session=session, helper=helper, cut_amount=cut,
                                                          price_after=price_after)
            record_event(kind="bargain_helped", actor=helper, target=session,
                         payload={"cut": cut, "price_after": price_after, "owner_id": session.owner_id,
                                  "floor_reached": last})
    except IntegrityError as error:
        if "bargain_help_once" in str(error):
            raise BusinessRuleViolation(_("you have already helped"),
                                        code="bargain_already_helped") from error
        raise
    return bargain_help_row


def bargain_buy(*, owner, session_id: int, address_id: int, idempotency_key: str) -> Order:
    """Place the order for one unit at the session's price. A retry with the same key returns the same order."""
    with transaction.atomic():
        session = locks.bargain_session_for_update(pk=session_id, owner=owner)
        if session is None:
            raise NotFound(_("no such bargain"), code="bargain_not_found")
        keyed = Order.objects.filter(buyer=owner, idempotency_key=idempotency_key).first()
        if session.order_id is not None:
            if keyed is not None and keyed.pk == session.order_id:
                return keyed
            raise BusinessRuleViolation(_("this bargain has already been ordered"),
                                        code="bargain_already_purchased", detail={"order_id": session.order_id})
        if keyed is not None:
            raise Conflict(_("this idempotency key belongs to another order"),
                           code="idempotency_key_reused")
        if session.status not in LIVE or session.expires_at <= timezone.now():
            raise BargainClosed(detail={"status": session.status})
        if session.status == St.ACTIVE and not session.campaign.allow_buy_at_current_price:
            raise BusinessRuleViolation(_("the floor price has not been reached yet"),
                                        code="bargain_floor_not_reached",
                                        detail={"helpers_needed": session.helpers_needed,
                                                "helper_count": session.helper_count})
        listing_id = session.campaign.listing_id
        order, _created = order_submit(buyer=owner, lines=[{"listing_id": listing_id, "quantity": 1}],
                                       address_id=address_id, idempotency_key=idempotency_key,
                                       kind=Order.Kind.BARGAIN,
                                       unit_price_override={listing_id: session.current_price})
        changed = BargainSession.objects.filter(pk=session.pk, status=session.status, order__isnull=True).update(
            status=St.PURCHASED, order=order, updated_at=timezone.now())
        if not changed:
            raise Conflict(_("the bargain changed meanwhile"), code="bargain_state_changed")
        record_event(kind="bargain_purchased", actor=owner, target=session,
                     payload={"order_id": order.pk, "price": session.current_price,
                              "floor_reached": session.status == St.FLOOR_REACHED})
    return order


def bargain_release_for_order(order: Order) -> bool:
    """Promotion hook, in the transaction that cancels an unpaid order (which locked the session first): give its
    bargain session back. True if one was."""
    session = BargainSession.objects.filter(order=order, status=St.PURCHASED).first()
    if session is None:
        return False
    now = timezone.now()
    back_to = St.FLOOR_REACHED if session.helper_count >= session.helpers_needed else St.ACTIVE
    other_live = (BargainSession.objects.filter(campaign_id=session.campaign_id, owner_id=session.owner_id,
                                                status__in=LIVE).exclude(pk=session.pk).exists())
    if session.expires_at <= now or other_live:
        back_to = St.EXPIRED
    BargainSession.objects.filter(pk=session.pk, status=St.PURCHASED).update(status=back_to, order=None,
                                                                             updated_at=now)
    record_event(kind="bargain_released", actor=session.owner, target=session,
                 payload={"order_id": order.pk, "status": back_to})
    return True


promotion_register(Promotion(kind=Order.Kind.BARGAIN, on_released=bargain_release_for_order))


def _expire(session_id: int) -> bool:
    with transaction.atomic():
        changed = BargainSession.objects.filter(pk=session_id, status__in=LIVE,
                                                expires_at__lte=timezone.now()).update(
            status=St.EXPIRED, updated_at=timezone.now())
        if changed:
            record_event(kind="bargain_expired", object_type="mall.bargainsession", object_id=session_id)
    return bool(changed)


def bargain_sessions_expire_due(*, limit: int = 500) -> int:
    """Sweep: expire live sessions past their window. Idempotent; returns how many it expired."""
    ids = list(BargainSession.objects.filter(status__in=LIVE, expires_at__lte=timezone.now())
               .order_by("expires_at").values_list("pk", flat=True)[:limit])
    return sum(_expire(session_id) for session_id in ids)
