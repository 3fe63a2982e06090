"""The cart grouped by store (GET /api/v1/cart): each store's lines with its subtotal, the cart's total, and lines
that cannot be bought now (listing off sale, not enough stock) kept but out of the totals."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from mall.models import CartItem, CouponTemplate, Listing, UserCoupon
from mall.services import coupons
from supply.models import Stock
from tests.factories import (
    CategoryFactory,
    CouponTemplateFactory,
    ListingFactory,
    ProductFactory,
    SKUFactory,
    StoreFactory,
)

pytestmark = pytest.mark.django_db


def _add(client, listing, quantity: int) -> None:
    response = client.post("/api/v1/cart/items", {"listing_id": listing.pk, "quantity": quantity}, format="json")
    assert response.status_code == 201, response.content


def test_the_cart_is_grouped_by_store_with_totals_of_what_can_be_bought(buyer, listing, supplier):
    client = APIClient()
    client.force_authenticate(buyer)
    other_store = StoreFactory()

    def sku():
        return SKUFactory(product=ProductFactory(supplier=supplier, shipping_template=supplier.rate.template))

    cheap = ListingFactory(store=other_store, sku=sku(), price=Decimal("12.50"))
    soon_gone = ListingFactory(store=other_store, sku=sku(), price=Decimal("99.00"))
    scarce = ListingFactory(store=listing.store, sku=sku(), price=Decimal("8.00"))
    _add(client, listing, 2)  # 50.00 x 2
    _add(client, scarce, 3)
    _add(client, cheap, 4)  # 12.50 x 4
    _add(client, soon_gone, 1)
    Listing.objects.filter(pk=soon_gone.pk).update(status=Listing.Status.INACTIVE)
    Stock.objects.filter(sku=scarce.sku).update(available=2)  # 3 wanted

    cart = client.get("/api/v1/cart").json()

    by_store = {store["store_id"]: store for store in cart["stores"]}
    assert [store["store_id"] for store in cart["stores"]] == [other_store.pk, listing.store_id]  # latest first
    mine = by_store[listing.store_id]
    assert [(line["listing"]["id"], line["line_total"], line["purchasable"]) for line in mine["items"]] == [
        (scarce.pk, "24.00", False), (listing.pk, "100.00", True)]
    assert (mine["subtotal"], mine["units"]) == ("100.00", 2)
    theirs = by_store[other_store.pk]
    assert [(line["listing"]["id"], line["purchasable"]) for line in theirs["items"]] == [
        (soon_gone.pk, False), (cheap.pk, True)]
    assert (theirs["subtotal"], theirs["units"]) == ("50.00", 4)
    assert (cart["total"], cart["units"]) == ("150.00", 6)
    assert CartItem.objects.filter(user=buyer).count() == 4  # nothing dropped from the cart


def test_an_empty_cart_and_no_login(buyer):
    client = APIClient()
    client.force_authenticate(buyer)
    assert client.get("/api/v1/cart").json() == {"stores": [], "total": "0.00", "units": 0}
    assert APIClient().get("/api/v1/cart").status_code == 401


def test_the_carts_coupons_say_what_each_takes_off_or_how_much_is_missing(buyer, listing, supplier):
    client = APIClient()
    client.force_authenticate(buyer)
    _add(client, listing, 2)  # 100.00 in the listing's store
    store = listing.store
    ten_off_100 = CouponTemplateFactory(store=store, name="满100减10", amount_off=Decimal("10.00"))
    thirty_off_200 = CouponTemplateFactory(store=store, name="满200减30", amount_off=Decimal("30.00"),
                                           threshold=Decimal("200.00"))
    other_category = CouponTemplateFactory(store=store, name="类目券", scope=CouponTemplate.Scope.CATEGORY,
                                           amount_off=Decimal("5.00"), threshold=Decimal("0"))
    other_category.categories.add(CategoryFactory())
    expired = CouponTemplateFactory(store=store, name="已过期")
    elsewhere = CouponTemplateFactory(name="别家店")  # another store, nothing of it in the cart
    for template in (ten_off_100, thirty_off_200, other_category, expired, elsewhere):
        coupons.coupon_claim(user=buyer, template_id=template.pk)
    UserCoupon.objects.filter(template=expired).update(valid_to=timezone.now() - timedelta(minutes=1))

    stores = client.get("/api/v1/cart/coupons").json()["stores"]

    assert [store_offers["store_id"] for store_offers in stores] == [store.pk]
    offers = [(offer["coupon"]["template"]["name"], offer["usable"], offer["discount"], offer["shortfall"])
              for offer in stores[0]["coupons"]]
    assert offers == [("满100减10", True, "10.00", "0.00"), ("类目券", False, "0.00", "0.00"),
                      ("满200减30", False, "0.00", "100.00")]
    assert UserCoupon.objects.filter(user=buyer, status=UserCoupon.Status.AVAILABLE).count() == 5  # nothing locked
