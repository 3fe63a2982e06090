from decimal import Decimal

import pytest

from mall.models import Refund
from mall.services import orders, payments, refunds
from tests.factories import (
    AddressFactory,
    ListingFactory,
    ProductFactory,
    ShippingRateFactory,
    SKUFactory,
    StoreFactory,
    SupplierFactory,
    UserFactory,
)


@pytest.fixture
def store(db):
    return StoreFactory()


@pytest.fixture
def supplier(db):
    supplier = SupplierFactory()
    supplier.rate = ShippingRateFactory(template__supplier=supplier)  # 10.00 first kg, +5.00/kg, free from 99.00
    return supplier


@pytest.fixture
def listing(store, supplier):
    """50.00, floor 30.00, 500 g, 100 in stock, shipped under the supplier's template (10.00 first kg, free >= 99)."""
    product = ProductFactory(supplier=supplier, shipping_template=supplier.rate.template)
    return ListingFactory(store=store, sku=SKUFactory(product=product), price=Decimal("50.00"))


@pytest.fixture
def buyer(db):
    return UserFactory()


@pytest.fixture
def address(buyer):
    return AddressFactory(user=buyer)


def place(buyer, address, listing, quantity=1, key="order-key-0001", **extra):
    order, _created = orders.order_submit(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": quantity}],
                                          address_id=address.pk, idempotency_key=key, **extra)
    return order


def pay(order):
    payments.simulated_gateway_pay(order=order)
    order.refresh_from_db()
    return order


def send_refunds() -> list[str]:
    """What the refund task does after commit (a test's transaction never commits): send every pending refund."""
    return [refunds.refund_send(refund_id=refund_id)
            for refund_id in Refund.objects.filter(status=Refund.Status.PENDING).order_by("pk").values_list(
                "pk", flat=True)]
