from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import BehaviourEvent
from mall.models import CouponTemplate, GroupBuyMember, GroupBuyTeam, Order, Refund, Shipment, UserCoupon
from mall.services import coupons, group_buys, orders, quotes
from mall.tasks import group_buy_teams_expire_task
from supply.models import Stock
from tests.factories import AddressFactory, CategoryFactory, CouponTemplateFactory, GroupBuyCampaignFactory, UserFactory
from tests.mall.conftest import pay, send_refunds

pytestmark = pytest.mark.django_db


def address_of(user) -> int:
    from mall.models import Address

    existing = Address.objects.filter(user=user).first()
    return (existing or AddressFactory(user=user)).pk


def member_order(team, user) -> Order:
    return Order.objects.get(group_buy_member__team=team, buyer=user)


def open_team(campaign, leader, key="leader-key-1"):
    return group_buys.group_buy_open(buyer=leader, campaign_id=campaign.pk, quantity=1,
                                     address_id=address_of(leader), idempotency_key=key)


def join(team, user, key):
    return group_buys.group_buy_join(buyer=user, team_id=team.pk, quantity=1,
                                     address_id=address_of(user), idempotency_key=key)


def test_a_full_team_succeeds_and_only_then_its_orders_may_ship(listing):
    campaign = GroupBuyCampaignFactory(listing=listing, team_size=2)
    leader, friend = UserFactory(), UserFactory()
    team = open_team(campaign, leader)
    leader_order = member_order(team, leader)
    assert leader_order.kind == Order.Kind.GROUP_BUY and leader_order.lines.get().unit_price == Decimal("35.00")
    with pytest.raises(group_buys.BusinessRuleViolation):  # not open until the leader pays
        join(team, friend, "friend-key-1")
    pay(leader_order)
    team.refresh_from_db()
    assert team.status == GroupBuyTeam.Status.OPEN and team.expires_at is not None
    leader_order.refresh_from_db()
    assert leader_order.status == Order.Status.GROUPING
    shipment = leader_order.shipments.get()
    with pytest.raises(orders.IllegalTransition):
        orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier, carrier="SF", tracking_number="1")

    join(team, friend, "friend-key-1")
    pay(member_order(team, friend))
    team.refresh_from_db()
    assert team.status == GroupBuyTeam.Status.SUCCEEDED
    for order in Order.objects.filter(group_buy_member__team=team):
        assert order.status == Order.Status.PAID
    orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier, carrier="SF", tracking_number="1")
    assert Shipment.objects.get(pk=shipment.pk).status == Shipment.Status.SHIPPED
    assert BehaviourEvent.objects.filter(kind="groupbuy_succeeded", object_id=str(team.pk)).count() == 1


def test_an_expired_team_fails_and_every_paid_member_is_refunded(listing):
    campaign = GroupBuyCampaignFactory(listing=listing, team_size=3)
    leader, paid_friend, slow_friend = UserFactory(), UserFactory(), UserFactory()
    team = open_team(campaign, leader)
    pay(member_order(team, leader))
    join(team, paid_friend, "paid-friend-1")
    pay(member_order(team, paid_friend))
    join(team, slow_friend, "slow-friend-1")  # holds a seat, never pays
    assert group_buy_teams_expire_task() == 0  # still within the window
    GroupBuyTeam.objects.filter(pk=team.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert group_buy_teams_expire_task() == 1
    team.refresh_from_db()
    assert team.status == GroupBuyTeam.Status.FAILED
    for user in (leader, paid_friend):
        order = member_order(team, user)
        assert (order.status, order.payment_status, order.refunded_total) == (
            Order.Status.CLOSED, Order.PaymentStatus.REFUNDED, order.total)
        assert Refund.objects.get(order=order).amount == order.total
    assert member_order(team, slow_friend).status == Order.Status.CANCELLED
    assert set(Refund.objects.values_list("status", flat=True)) == {Refund.Status.PENDING}  # sent after commit
    assert send_refunds() == [Refund.Status.SUCCEEDED] * 2
    assert set(member_order(team, leader).shipments.values_list("status", flat=True)) == {Shipment.Status.CANCELLED}
    stock = Stock.objects.get(sku=listing.sku)
    assert (stock.available, stock.reserved, stock.sold) == (100, 0, 0)  # everything is back
    assert group_buy_teams_expire_task() == 0  # idempotent: nobody is refunded twice
    assert Refund.objects.count() == 2


def test_a_cancelled_member_gives_the_seat_back(listing):
    campaign = GroupBuyCampaignFactory(listing=listing, team_size=2)
    leader, first, second = UserFactory(), UserFactory(), UserFactory()
    team = open_team(campaign, leader)
    pay(member_order(team, leader))
    join(team, first, "first-join-1")
    with pytest.raises(group_buys.TeamFull):
        join(team, second, "second-join-1")
    orders.order_cancel(order_id=member_order(team, first).pk, buyer=first)
    team.refresh_from_db()
    assert team.seats_taken == 1
    join(team, second, "second-join-2")
    assert GroupBuyMember.objects.filter(team=team, status="released").count() == 1


def test_the_per_user_limit_holds_across_teams(listing):
    campaign = GroupBuyCampaignFactory(listing=listing, per_user_limit=1)
    shopper = UserFactory()
    open_team(campaign, shopper)
    with pytest.raises(group_buys.BusinessRuleViolation) as refused:
        open_team(campaign, shopper, key="leader-key-2")
    assert refused.value.code == "group_buy_limit_reached"


def test_coupon_claim_limits_and_total_quantity(buyer, listing):
    template = CouponTemplateFactory(store=listing.store, total_quantity=2, per_user_limit=1)
    coupons.coupon_claim(user=buyer, template_id=template.pk)
    with pytest.raises(coupons.BusinessRuleViolation) as refused:
        coupons.coupon_claim(user=buyer, template_id=template.pk)
    assert refused.value.code == "coupon_claim_limit"
    coupons.coupon_claim(user=UserFactory(), template_id=template.pk)
    with pytest.raises(coupons.BusinessRuleViolation) as refused:
        coupons.coupon_claim(user=UserFactory(), template_id=template.pk)
    assert refused.value.code == "coupon_sold_out"
    template.refresh_from_db()
    assert template.claimed_count == 2 and UserCoupon.objects.count() == 2


def test_relative_validity_starts_at_claim(buyer, listing):
    template = CouponTemplateFactory(store=listing.store, validity=CouponTemplate.Validity.RELATIVE, valid_days=3,
                                     valid_from=None, valid_to=None)
    coupon = coupons.coupon_claim(user=buyer, template_id=template.pk)
    assert timedelta(days=2, hours=23) < coupon.valid_to - coupon.valid_from <= timedelta(days=3)


def test_percentage_coupon_is_capped_and_scoped_to_its_category(buyer, address, listing, store, supplier):
    from tests.factories import ListingFactory, ProductFactory, SKUFactory

    other_category = CategoryFactory(name="厨房餐具")
    other = ListingFactory(store=store, price=Decimal("100.00"),
                           sku=SKUFactory(product=ProductFactory(supplier=supplier, category=other_category)))
    template = CouponTemplateFactory(store=store, kind=CouponTemplate.Kind.PERCENTAGE, percent_off=20,
                                     amount_off=None, threshold=Decimal("0"), max_discount=Decimal("15.00"),
                                     scope=CouponTemplate.Scope.CATEGORY)
    template.categories.add(other_category)
    coupon = coupons.coupon_claim(user=buyer, template_id=template.pk)
    quote = quotes.quote_build(buyer=buyer, address_id=address.pk, coupon_id=coupon.pk,
                               lines=[{"listing_id": listing.pk, "quantity": 1},
                                      {"listing_id": other.pk, "quantity": 1}])
    shares = {line.listing.pk: line.discount_share for line in quote.lines}
    assert quote.discount_total == Decimal("15.00")  # 20 % of 100.00 = 20.00, capped at 15.00
    assert shares == {listing.pk: Decimal("0.00"), other.pk: Decimal("15.00")}  # only the scoped line
    assert quote.total == Decimal("150.00") - Decimal("15.00")


def test_threshold_not_met_and_other_peoples_coupons_are_refused(buyer, address, listing):
    template = CouponTemplateFactory(store=listing.store)  # 满100减20
    coupon = coupons.coupon_claim(user=buyer, template_id=template.pk)
    with pytest.raises(quotes.BusinessRuleViolation) as refused:
        quotes.quote_build(buyer=buyer, address_id=address.pk, coupon_id=coupon.pk,
                           lines=[{"listing_id": listing.pk, "quantity": 1}])
    assert refused.value.code == "coupon_threshold_not_met"
    stranger = UserFactory()
    with pytest.raises(quotes.NotFound):
        quotes.quote_build(buyer=stranger, address_id=AddressFactory(user=stranger).pk, coupon_id=coupon.pk,
                           lines=[{"listing_id": listing.pk, "quantity": 3}])


def test_my_coupons_filter_by_status_and_refuse_an_unknown_one(buyer, listing):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(buyer)
    coupons.coupon_claim(user=buyer, template_id=CouponTemplateFactory(store=listing.store).pk)
    assert client.get("/api/v1/coupons/mine", {"status": "available"}).json()["count"] == 1
    assert client.get("/api/v1/coupons/mine", {"status": "used"}).json()["count"] == 0
    response = client.get("/api/v1/coupons/mine", {"status": "bogus"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
