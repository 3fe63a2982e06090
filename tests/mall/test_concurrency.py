"""Races on real PostgreSQL with real threads: no oversell, no double coupon, no overfilled team, no double pay."""
import json
from decimal import Decimal

import pytest

from mall.models import GroupBuyMember, Order, Payment, UserCoupon
from mall.services import coupons, group_buys, orders, payments
from supply.models import Stock
from tests.factories import AddressFactory, CouponTemplateFactory, GroupBuyCampaignFactory, UserFactory
from tests.helpers import race
from tests.mall.conftest import pay, place

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_fifty_buyers_racing_for_the_last_ten_units_get_exactly_ten_orders(listing):
    Stock.objects.filter(sku=listing.sku).update(available=10)
    buyers = [UserFactory() for _ in range(50)]
    addresses = [AddressFactory(user=buyer) for buyer in buyers]

    def buy(index):
        return place(buyers[index], addresses[index], listing, quantity=1, key=f"race-{index:04d}")

    results, errors = race(50, buy)
    assert len(results) == 10
    assert len(errors) == 40 and {getattr(e, "code", repr(e)) for e in errors} == {"out_of_stock"}
    stock = Stock.objects.get(sku=listing.sku)
    assert (stock.available, stock.reserved) == (0, 10)
    assert Order.objects.count() == 10


def test_twenty_concurrent_uses_of_one_coupon_give_one_order(buyer, address, listing):
    template = CouponTemplateFactory(store=listing.store, threshold=Decimal("0"), amount_off=Decimal("5.00"),
                                     kind="no_threshold")
    coupon = coupons.coupon_claim(user=buyer, template_id=template.pk)

    def buy(index):
        return place(buyer, address, listing, quantity=1, key=f"coupon-race-{index:03d}", coupon_id=coupon.pk)

    results, errors = race(20, buy)
    assert len(results) == 1
    assert {e.code for e in errors} == {"coupon_used"}
    assert Order.objects.filter(coupon=coupon).count() == 1
    assert Order.objects.count() == 1
    coupon.refresh_from_db()
    assert coupon.status == UserCoupon.Status.LOCKED and coupon.order_id == results[0].pk
    assert Stock.objects.get(sku=listing.sku).reserved == 1  # the losers reserved nothing


def test_ten_shoppers_joining_a_team_of_three_leave_exactly_three_members(listing):
    campaign = GroupBuyCampaignFactory(listing=listing, team_size=3)
    leader = UserFactory()
    team = group_buys.group_buy_open(buyer=leader, campaign_id=campaign.pk, quantity=1,
                                     address_id=AddressFactory(user=leader).pk, idempotency_key="team-leader-1")
    pay(Order.objects.get(group_buy_member__team=team))
    joiners = [UserFactory() for _ in range(10)]
    addresses = [AddressFactory(user=user) for user in joiners]

    def join(index):
        return group_buys.group_buy_join(buyer=joiners[index], team_id=team.pk, quantity=1,
                                         address_id=addresses[index].pk, idempotency_key=f"join-{index:04d}")

    results, errors = race(10, join)
    assert len(results) == 2
    assert {e.code for e in errors} == {"team_full"}
    team.refresh_from_db()
    assert team.seats_taken == 3
    assert GroupBuyMember.objects.filter(team=team).exclude(status="released").count() == 3


def test_a_payment_callback_delivered_five_times_at_once_pays_once(buyer, address, listing):
    order = place(buyer, address, listing, quantity=2)
    body = json.dumps({"order_number": order.number, "transaction_id": "wx-txn-0001",
                       "amount": str(order.total)}).encode()
    signature = payments.sign(body)

    def deliver(index):
        return payments.payment_callback(provider="simulated", body=body, headers={"X-Signature": signature}).pk

    results, errors = race(5, deliver)
    assert errors == []
    assert len(set(results)) == 1
    assert Payment.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    stock = Stock.objects.get(sku=listing.sku)
    assert (stock.reserved, stock.sold) == (0, 2)  # consumed once
    assert order.events.filter(axis="payment_status", to_state="paid").count() == 1


def test_concurrent_submits_with_one_idempotency_key_make_one_order(buyer, address, listing):
    results, errors = race(5, lambda index: place(buyer, address, listing, quantity=1, key="same-key-race").pk)
    assert errors == []
    assert len(set(results)) == 1
    assert Order.objects.count() == 1
    assert Stock.objects.get(sku=listing.sku).reserved == 1


def test_orders_touching_the_same_skus_in_any_order_do_not_deadlock(listing, store, supplier):
    from tests.factories import ListingFactory, ProductFactory, SKUFactory

    other = ListingFactory(store=store, sku=SKUFactory(product=ProductFactory(supplier=supplier)))
    buyers = [UserFactory() for _ in range(10)]
    addresses = [AddressFactory(user=b) for b in buyers]

    def buy(index):
        lines = [{"listing_id": listing.pk, "quantity": 1}, {"listing_id": other.pk, "quantity": 1}]
        if index % 2:
            lines.reverse()
        order, _ = orders.order_submit(buyer=buyers[index], lines=lines, address_id=addresses[index].pk,
                                       idempotency_key=f"deadlock-{index:03d}")
        return order.pk

    results, errors = race(10, buy)
    assert errors == [] and len(results) == 10
