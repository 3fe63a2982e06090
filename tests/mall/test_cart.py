"""The cart grouped by store (GET /api/v1/cart): each store's lines with its subtotal, the cart's total, and lines
that cannot be bought now (listing off sale, not enough stock) kept but out of the totals."""
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from mall.models import CartItem, Listing
from supply.models import Stock
from tests.factories import ListingFactory, ProductFactory, SKUFactory, StoreFactory

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
