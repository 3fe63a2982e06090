"""Group-buy (拼团): open a team (the leader pays), join it (each member pays), succeed when full, fail and refund
everyone when the window closes first.

A seat is taken when a member's order is placed and given back if that order is cancelled; seats are counted with a
conditional UPDATE (`seats_taken < team_size`), so ten shoppers racing for the last seat of a team of three leave
exactly three members. Orders of a team ship only after the team has succeeded (order status `grouping` -> `paid`).

The team reacts to its orders through the promotion hook (`promotions`): paid -> count the member, released ->
give the seat back. Locks follow `locks`: the team first, then its members' orders. A failing team books a
pending refund for each paid member (`refunds.refund_book`); the money is sent after commit, never under the
team's lock.
"""
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, NotFound
from core.events import record_event
from mall.models import GroupBuyCampaign, GroupBuyMember, GroupBuyTeam, Order
from mall.services import locks, refunds
from mall.services.orders import order_cancel_locked, order_submit, order_transition
from mall.services.promotions import Promotion, promotion_register

T = GroupBuyTeam.Status


class TeamFull(BusinessRuleViolation):
    code = "team_full"
    message = _("this team is full")


def _campaign_live(campaign_id: int) -> GroupBuyCampaign:
    campaign = GroupBuyCampaign.objects.select_related("listing").filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound(_("no such group-buy"), code="group_buy_not_found")
    now = timezone.now()
    if not campaign.is_active or not (campaign.starts_at <= now < campaign.ends_at):
        raise BusinessRuleViolation(_("the group-buy is not running"), code="group_buy_closed")
    return campaign


def _check_user_limit(campaign: GroupBuyCampaign, buyer, quantity: int) -> None:
    bought = (GroupBuyMember.objects.filter(team__campaign=campaign, user=buyer)
              .exclude(status=GroupBuyMember.Status.RELEASED)
              .aggregate(units=Sum("order__lines__quantity"))["units"] or 0)
    if bought + quantity > campaign.per_user_limit:
        raise BusinessRuleViolation(_("limit of %(limit)s per person reached") % {"limit": campaign.per_user_limit},
                                    code="group_buy_limit_reached",
                                    detail={"limit": campaign.per_user_limit, "already": bought})


def _member_order(*, campaign, buyer, address_id, quantity, idempotency_key) -> Order:
    order, _created = order_submit(
        buyer=buyer, lines=[{"listing_id": campaign.listing_id, "quantity": quantity}], address_id=address_id,
        idempotency_key=idempotency_key, kind=Order.Kind.GROUP_BUY,
        unit_price_override={campaign.listing_id: campaign.team_price})
    return order


def group_buy_open(*, buyer, campaign_id: int, address_id: int, quantity: int, idempotency_key: str) -> GroupBuyTeam:
    """Open a new team with the buyer as leader. The team is visible to others once the leader has paid."""
    existing = GroupBuyMember.objects.filter(order__buyer=buyer, order__idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing.team
    with transaction.atomic():
        campaign = _campaign_live(campaign_id)
        _check_user_limit(campaign, buyer, quantity)
        team = GroupBuyTeam.objects.create(campaign=campaign, leader=buyer, team_size=campaign.team_size,
                                           seats_taken=1)
        order = _member_order(campaign=campaign, buyer=buyer, address_id=address_id, quantity=quantity,
                              idempotency_key=idempotency_key)
        GroupBuyMember.objects.create(team=team, user=buyer, order=order)
        record_event(kind="groupbuy_opened", actor=buyer, target=team, payload={"campaign_id": campaign.pk})
    return team


def group_buy_join(*, buyer, team_id: int, address_id: int, quantity: int, idempotency_key: str) -> GroupBuyTeam:
    """Take a seat in an open team and place the member's order (to be paid within the pay window)."""
    existing = GroupBuyMember.objects.filter(order__buyer=buyer, order__idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing.team
    with transaction.atomic():
        team = GroupBuyTeam.objects.select_related("campaign").filter(pk=team_id).first()
        if team is None:
            raise NotFound(_("no such team"), code="team_not_found")
        if GroupBuyMember.objects.filter(team=team, user=buyer).exclude(status=GroupBuyMember.Status.RELEASED).exists():
            raise BusinessRuleViolation(_("you are already in this team"), code="already_in_team")
        _check_user_limit(team.campaign, buyer, quantity)
        seat = GroupBuyTeam.objects.filter(pk=team.pk, status=T.OPEN, expires_at__gt=timezone.now(),
                                           seats_taken__lt=F("team_size")).update(seats_taken=F("seats_taken") + 1)
        if not seat:
            team.refresh_from_db()
            if team.status != T.OPEN or team.expires_at <= timezone.now():
                raise BusinessRuleViolation(_("this team is no longer open"), code="team_closed")
            raise TeamFull()
        order = _member_order(campaign=team.campaign, buyer=buyer, address_id=address_id, quantity=quantity,
                              idempotency_key=idempotency_key)
        GroupBuyMember.objects.create(team=team, user=buyer, order=order)
        record_event(kind="groupbuy_joined", actor=buyer, target=team)
    team.refresh_from_db()
    return team


def member_paid(order: Order) -> None:
    """Promotion hook, in the payment's transaction (the team is locked first by `locks.order_for_update`):
    count the paid member; open the team (the leader paid) or complete it."""
    # The member rows of a team change only under the team's lock, which the caller holds.
    member = GroupBuyMember.objects.filter(order=order).first()
    if member is None or member.status != GroupBuyMember.Status.HOLDING:
        return
    GroupBuyMember.objects.filter(pk=member.pk).update(status=GroupBuyMember.Status.PAID)
    team = locks.team_for_update(team_id=member.team_id)
    now = timezone.now()
    team.paid_members += 1
    fields = {"paid_members": F("paid_members") + 1}
    if team.status == T.OPENING:
        # The team's window is swept every minute (group_buy_teams_expire_due): a task per team would sit in the
        # broker for hours.
        fields.update(status=T.OPEN, expires_at=now + timedelta(hours=team.campaign.window_hours))
    GroupBuyTeam.objects.filter(pk=team.pk).update(**fields)
    if team.paid_members >= team.team_size:
        _team_succeed(team)


def _team_succeed(team: GroupBuyTeam) -> None:
    GroupBuyTeam.objects.filter(pk=team.pk).update(status=T.SUCCEEDED, succeeded_at=timezone.now())
    members = list(team.members.filter(status=GroupBuyMember.Status.PAID).order_by("order_id"))
    for order in locks.orders_for_update(order_ids=[member.order_id for member in members]):
        order_transition(order=order, axis="status", to=Order.Status.PAID, reason=f"team {team.pk} succeeded")
    record_event(kind="groupbuy_succeeded", actor=team.leader, target=team,
                 payload={"members": [member.user_id for member in members]})


def member_release_for_order(order: Order) -> None:
    """Promotion hook: an unpaid member order is cancelled: give its seat back."""
    member = GroupBuyMember.objects.filter(order=order, status=GroupBuyMember.Status.HOLDING).first()
    if member is None:
        return
    GroupBuyMember.objects.filter(pk=member.pk).update(status=GroupBuyMember.Status.RELEASED)
    GroupBuyTeam.objects.filter(pk=member.team_id, seats_taken__gt=0).update(seats_taken=F("seats_taken") - 1)
    # The leader never paid: the team never opened.
    GroupBuyTeam.objects.filter(pk=member.team_id, status=T.OPENING).update(status=T.FAILED)


promotion_register(Promotion(kind=Order.Kind.GROUP_BUY, holds_paid_orders=True, on_paid=member_paid,
                             on_released=member_release_for_order))


def group_buy_team_expire(*, team_id: int) -> bool:
    """Fail a team whose window closed before it filled: book a refund for every paid member and cancel the
    unpaid ones, in one transaction (team, then the members' orders). True if it failed the team now."""
    with transaction.atomic():
        team = locks.team_for_update(team_id=team_id)
        if team is None or team.status != T.OPEN or team.expires_at > timezone.now():
            return False
        GroupBuyTeam.objects.filter(pk=team.pk).update(status=T.FAILED)
        members = {member.order_id: member for member in team.members.exclude(status=GroupBuyMember.Status.RELEASED)}
        for order in locks.orders_for_update(order_ids=members):
            _member_settle_failed(team=team, member=members[order.pk], order=order)
        record_event(kind="groupbuy_failed", actor=team.leader, target=team)
    return True


def _member_settle_failed(*, team: GroupBuyTeam, member: GroupBuyMember, order: Order) -> None:
    if member.status == GroupBuyMember.Status.HOLDING and order.status == Order.Status.PENDING_PAYMENT:
        order_cancel_locked(order=order, reason=f"team {team.pk} failed")
    elif member.status == GroupBuyMember.Status.PAID and order.status == Order.Status.GROUPING:
        lines = locks.lines_for_update(order=order, line_ids=order.lines.values_list("pk", flat=True))
        refunds.refund_book(order=order, parts=[(line, line.quantity - line.refunded_quantity)
                                                for line in lines.values()],
                            reason="拼团失败 group-buy team failed", reference=f"team-fail:{order.pk}")


def group_buy_teams_expire_due(*, limit: int = 200) -> int:
    """Sweep (beat, every minute): fail the open teams whose window has closed."""
    ids = list(GroupBuyTeam.objects.filter(status=T.OPEN, expires_at__lte=timezone.now())
               .order_by("expires_at").values_list("pk", flat=True)[:limit])
    return sum(group_buy_team_expire(team_id=team_id) for team_id in ids)


# --- campaigns (merchant console) -------------------------------------------------------------------------------
GROUP_BUY_TEAM_SIZE_MAX = 50


def _group_buy_price_valid(team_price) -> bool:
    """An amount in cents above zero: a Decimal or an int, at most two decimal places, never a float."""
    try:
        return not isinstance(team_price, bool | float) and team_price > 0 and round(team_price, 2) == team_price
    except (TypeError, ArithmeticError):
        return False


def _group_buy_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _group_buy_campaign_check(*, store, listing, team_price, team_size, window_hours, per_user_limit, starts_at,
                              ends_at, sellable: bool, creating: bool) -> None:
    """Everything a merchant can get wrong in a group-buy campaign, refused with its own code.

    `sellable`: the campaign is (or stays) on, so its price must be sellable now: above zero, not below the SKU's
    floor (never clamped at checkout), below the listing's own price, on an active listing of the store. A
    campaign being switched off is checked for its shape only: a floor raised since must not keep it on."""
    if listing is None or (store is not None and listing.store_id != store.pk):
        raise BusinessRuleViolation(_("team offers only for listings of this store"),
                                    code="group_buy_listing_not_in_store")
    if not _group_buy_price_valid(team_price):
        raise BusinessRuleViolation(_("the team price must be an amount above zero, in cents"),
                                    code="group_buy_price_invalid")
    if not _group_buy_whole(team_size) or not 2 <= team_size <= GROUP_BUY_TEAM_SIZE_MAX:
        raise BusinessRuleViolation(_("a team has 2 to %(most)s members") % {"most": GROUP_BUY_TEAM_SIZE_MAX},
                                    code="group_buy_team_size_invalid")
    if not _group_buy_whole(window_hours) or window_hours < 1:
        raise BusinessRuleViolation(_("a team has at least one hour to fill"),
                                    code="group_buy_window_invalid")
    if not _group_buy_whole(per_user_limit) or per_user_limit < 1:
        raise BusinessRuleViolation(_("at least one unit per person"),
                                    code="group_buy_per_user_limit_invalid")
    try:
        dates_ordered = starts_at < ends_at
    except TypeError:  # a missing or naive date
        dates_ordered = False
    if not dates_ordered:
        raise BusinessRuleViolation(_("ends_at must be after starts_at"),
                                    code="group_buy_dates_invalid")
    if creating and ends_at <= timezone.now():
        raise BusinessRuleViolation(_("the campaign would already be over"), code="group_buy_ended")
    if not sellable:
        return
    if listing.status != listing.Status.ACTIVE:
        raise BusinessRuleViolation(_("the listing is not on sale"),
                                    code="group_buy_listing_inactive")
    floor_price = listing.sku.floor_price
    if team_price < floor_price:
        raise BusinessRuleViolation(
            _("the team price is below the supplier's lowest price %(floor)s") % {"floor": floor_price},
            code="group_buy_price_below_floor", detail={"sku_floor_price": str(floor_price)})
    if team_price >= listing.price:
        raise BusinessRuleViolation(
            _("the team price must be below the listing price %(price)s") % {"price": listing.price},
            code="group_buy_price_not_below_listing", detail={"price": str(listing.price)})


def group_buy_campaign_create(*, store, listing, team_price, team_size: int, starts_at, ends_at,
                              window_hours: int = 24, per_user_limit: int = 1,
                              is_active: bool = True) -> GroupBuyCampaign:
    """A merchant sets up a group-buy on a listing of its store, refused (with a code per mistake) unless sellable."""
    _group_buy_campaign_check(store=store, listing=listing, team_price=team_price, team_size=team_size,
                              window_hours=window_hours, per_user_limit=per_user_limit, starts_at=starts_at,
                              ends_at=ends_at, sellable=True, creating=True)
    return GroupBuyCampaign.objects.create(
        listing=listing, team_price=team_price, team_size=team_size, window_hours=window_hours,
        per_user_limit=per_user_limit, starts_at=starts_at, ends_at=ends_at, is_active=bool(is_active))


def group_buy_campaign_update(*, campaign_id: int, team_price, team_size: int, window_hours: int,
                              per_user_limit: int, starts_at, ends_at, is_active: bool,
                              store=None) -> GroupBuyCampaign:
    """A merchant edits a campaign (of `store`, when given). Its listing stays; teams already open keep their size
    (copied onto the team) and members' orders keep the price they were placed at, so nothing here needs a lock."""
    with transaction.atomic():
        lookup = {"listing__store": store} if store is not None else {}
        campaign = GroupBuyCampaign.objects.select_related("listing__sku").filter(pk=campaign_id, **lookup).first()
        if campaign is None:
            raise NotFound(_("no such group-buy"), code="group_buy_not_found")
        _group_buy_campaign_check(store=None, listing=campaign.listing, team_price=team_price, team_size=team_size,
                                  window_hours=window_hours, per_user_limit=per_user_limit, starts_at=starts_at,
                                  ends_at=ends_at, sellable=bool(is_active), creating=False)
        GroupBuyCampaign.objects.filter(pk=campaign.pk).update(
            team_price=team_price, team_size=team_size, window_hours=window_hours, per_user_limit=per_user_limit,
            starts_at=starts_at, ends_at=ends_at, is_active=bool(is_active), updated_at=timezone.now())
        campaign.refresh_from_db()
    return campaign
