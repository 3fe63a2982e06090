from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import BehaviourEvent
from mall.models import Order, OrderEvent, Shipment
from mall.services import orders, quotes
from supply.models import PricingRule, Region, Stock
from tests.factories import (
    AddressFactory,
    ListingFactory,
    ProductFactory,
    ShippingRateFactory,
    SKUFactory,
    SupplierFactory,
)
from tests.mall.conftest import pay, place

pytestmark = pytest.mark.django_db


def stock_of(listing) -> Stock:
    return Stock.objects.get(sku=listing.sku)


def test_submit_snapshots_prices_reserves_stock_and_records_events(buyer, address, listing):
    order = place(buyer, address, listing, quantity=3)
    assert order.status == Order.Status.PENDING_PAYMENT and order.payment_status == Order.PaymentStatus.UNPAID
    assert (order.subtotal, order.shipping_fee, order.discount_total, order.total) == (
        Decimal("150.00"), Decimal("0.00"), Decimal("0.00"), Decimal("150.00"))  # 150 >= 99: free shipping
    line = order.lines.get()
    assert (line.unit_price, line.cost_price, line.quantity, line.title) == (
        Decimal("50.00"), Decimal("20.00"), 3, listing.sku.product.title)
    stock = stock_of(listing)
    assert (stock.available, stock.reserved, stock.sold) == (97, 3, 0)
    assert order.address["city"] == "上海市" and order.region_id == "310000"
    assert BehaviourEvent.objects.filter(kind="order_created", object_id=str(order.pk)).count() == 1

    listing.price = Decimal("80.00")
    listing.save()
    line.refresh_from_db()
    assert line.unit_price == Decimal("50.00")  # placed orders keep their snapshot


def test_retried_submit_with_the_same_key_returns_the_same_order(buyer, address, listing):
    first = place(buyer, address, listing, quantity=2, key="same-key-123")
    second, created = orders.order_submit(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": 2}],
                                          address_id=address.pk, idempotency_key="same-key-123")
    assert created is False and second.pk == first.pk
    assert Order.objects.count() == 1
    assert stock_of(listing).reserved == 2


def test_shipping_is_charged_per_supplier_by_weight_and_region(buyer, address, listing, store):
    # listing: 1 x 50.00, 500 g -> first kg 10.00. A second supplier with its own template: 2.5 kg -> 8 + 2 x 3.
    other = SupplierFactory()
    rate = ShippingRateFactory(template__supplier=other, first_fee=Decimal("8.00"), extra_fee=Decimal("3.00"),
                               free_threshold=None)
    heavy = ListingFactory(store=store, price=Decimal("40.00"), sku=SKUFactory(
        weight_grams=2500, product=ProductFactory(supplier=other, shipping_template=rate.template)))
    order, _ = orders.order_submit(buyer=buyer, address_id=address.pk, idempotency_key="split-order-1",
                                   lines=[{"listing_id": listing.pk, "quantity": 1},
                                          {"listing_id": heavy.pk, "quantity": 1}])
    shipments = {s.supplier_id: s for s in order.shipments.all()}
    assert set(shipments) == {listing.sku.product.supplier_id, other.pk}  # one shipment per supplier
    assert shipments[listing.sku.product.supplier_id].shipping_fee == Decimal("10.00")
    assert shipments[other.pk].shipping_fee == Decimal("14.00")
    assert order.shipping_fee == Decimal("24.00") and order.total == Decimal("114.00")

    remote_rate = ShippingRateFactory(template=rate.template, tier=3, first_fee=Decimal("20.00"),
                                      extra_fee=Decimal("10.00"), free_threshold=None)
    assert remote_rate.pk
    xinjiang = AddressFactory(user=buyer, region=Region.objects.get(code="650000"), is_default=False)
    quote = quotes.quote_build(buyer=buyer, lines=[{"listing_id": heavy.pk, "quantity": 1}], address_id=xinjiang.pk)
    assert quote.shipping_fee == Decimal("40.00")  # tier-3 rate: 20 + 2 x 10


def test_regional_pricing_rules_apply_from_the_address_and_never_cross_the_floor(buyer, address, listing):
    supplier = listing.sku.product.supplier
    PricingRule.objects.create(supplier=supplier, tier=1, mode=PricingRule.Mode.MULTIPLIER, value=Decimal("1.10"))
    quote = quotes.quote_build(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": 1}],
                               address_id=address.pk)
    assert quote.lines[0].unit_price == Decimal("55.00")  # Shanghai is tier 1

    PricingRule.objects.create(supplier=supplier, sku=listing.sku, region_id="310000", mode=PricingRule.Mode.PRICE,
                               value=Decimal("12.00"), valid_from=timezone.now() - timedelta(days=1))
    quote = quotes.quote_build(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": 1}],
                               address_id=address.pk)
    assert quote.lines[0].unit_price == Decimal("30.00")  # the SKU rule wins, clamped up to the floor

    PricingRule.objects.filter(sku=listing.sku).update(valid_to=timezone.now() - timedelta(hours=1))
    quote = quotes.quote_build(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": 1}],
                               address_id=address.pk)
    assert quote.lines[0].unit_price == Decimal("55.00")  # expired rule no longer applies


def test_cancel_releases_stock_and_writes_the_transition(buyer, address, listing):
    order = place(buyer, address, listing, quantity=4)
    orders.order_cancel(order_id=order.pk, buyer=buyer, actor=buyer)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED and order.cancelled_at is not None
    stock = stock_of(listing)
    assert (stock.available, stock.reserved) == (100, 0)
    assert OrderEvent.objects.filter(order=order, axis="status", from_state="pending_payment",
                                     to_state="cancelled").exists()
    with pytest.raises(orders.IllegalTransition):
        orders.order_cancel(order_id=order.pk, buyer=buyer)
    assert stock_of(listing).available == 100  # nothing released twice


def test_the_transition_table_refuses_illegal_moves(buyer, address, listing):
    order = place(buyer, address, listing)
    with pytest.raises(orders.IllegalTransition):
        orders.order_transition(order=order, axis="status", to=Order.Status.COMPLETED)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert not OrderEvent.objects.filter(order=order, to_state="completed").exists()


def test_full_life_cycle_pay_ship_deliver_confirm(buyer, address, listing):
    order = pay(place(buyer, address, listing, quantity=2))
    assert (order.status, order.payment_status) == (Order.Status.PAID, Order.PaymentStatus.PAID)
    stock = stock_of(listing)
    assert (stock.available, stock.reserved, stock.sold) == (98, 0, 2)
    shipment = order.shipments.get()
    orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier, carrier="顺丰", tracking_number="SF1")
    order.refresh_from_db()
    assert (order.status, order.shipping_status) == (Order.Status.SHIPPED, Order.ShippingStatus.SHIPPED)
    orders.shipment_deliver(shipment_id=shipment.pk)
    orders.order_confirm_receipt(order_id=order.pk, buyer=buyer)
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED and order.completed_at is not None
    axes = list(OrderEvent.objects.filter(order=order).values_list("axis", "to_state"))
    assert ("payment_status", "paid") in axes and ("status", "completed") in axes
    kinds = set(BehaviourEvent.objects.filter(object_id=str(order.pk), object_type="mall.order")
                .values_list("kind", flat=True))
    assert {"order_created", "order_paid", "order_shipped", "order_delivered", "order_completed"} <= kinds


def test_a_supplier_cannot_ship_another_suppliers_shipment(buyer, address, listing):
    order = pay(place(buyer, address, listing))
    shipment = order.shipments.get()
    with pytest.raises(orders.NotFound):
        orders.shipment_ship(shipment_id=shipment.pk, supplier=SupplierFactory(), carrier="x", tracking_number="y")
    assert Shipment.objects.get(pk=shipment.pk).status == Shipment.Status.PENDING


def test_an_unpaid_order_cannot_ship(buyer, address, listing):
    order = place(buyer, address, listing)
    shipment = order.shipments.get()
    with pytest.raises(orders.IllegalTransition):
        orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier, carrier="x", tracking_number="y")


def test_out_of_stock_refuses_and_leaves_nothing_behind(buyer, address, listing):
    Stock.objects.filter(sku=listing.sku).update(available=2)
    with pytest.raises(orders.BusinessRuleViolation) as refused:
        place(buyer, address, listing, quantity=3)
    assert refused.value.code == "out_of_stock"
    assert Order.objects.count() == 0
    assert stock_of(listing).available == 2
