"""销量 per store: a listing's `sold` counts the units of its own paid orders, counted by the mall.listing_sales batch
consumer from order_paid events, exactly once however often it runs; another store selling the same SKU keeps its own
count."""
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from core.events import consumer_run
from mall.events import LISTING_SALES
from mall.models import Listing
from tests.factories import ListingFactory, StoreFactory
from tests.mall.conftest import pay, place

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_store_counts_what_it_sold_once(buyer, address, listing):
    consumer_run(name=LISTING_SALES)  # whatever came before
    same_sku_elsewhere = ListingFactory(store=StoreFactory(), sku=listing.sku, price=Decimal("55.00"))
    pay(place(buyer, address, listing, quantity=2, key="sales-1"))
    pay(place(buyer, address, listing, quantity=1, key="sales-2"))
    place(buyer, address, listing, quantity=5, key="sales-unpaid")  # not paid: not sold
    pay(place(buyer, address, same_sku_elsewhere, quantity=4, key="sales-3"))

    assert consumer_run(name=LISTING_SALES) == 3  # three order_paid events
    assert consumer_run(name=LISTING_SALES) == 0  # a second run counts nothing again

    counts = dict(Listing.objects.filter(pk__in=[listing.pk, same_sku_elsewhere.pk])
                  .values_list("pk", "sold_count"))
    assert counts == {listing.pk: 3, same_sku_elsewhere.pk: 4}
    shown = APIClient().get(f"/api/v1/listings/{listing.pk}").json()
    assert shown["sold"] == 3
