"""Each admin site in headless Chromium, as its user: log in, the dashboard draws its charts, an order opens,
and no page logs a console error or loads anything that fails (every asset is served locally: no CDN)."""
from decimal import Decimal

import pytest

from accounts.models import Role
from mall.models import Shipment
from mall.services import orders, payments
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

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PASSWORD = "browser-test-Pass-2026"
CHARTS_DRAWN = """() => Array.from(document.querySelectorAll("canvas.chart")).map(canvas => {
    const chart = Chart.getChart(canvas);
    return chart ? chart.data.datasets.reduce((points, dataset) => points + dataset.data.length, 0) : -1;
})"""


def _user(**fields):
    user = UserFactory(**fields)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def shop():
    """A store with a merchant, a supplier with a member, and one paid order of the supplier's product."""
    supplier = SupplierFactory()
    supplier_member = _user(role=Role.SUPPLIER_STAFF)
    supplier.staff.add(supplier_member)
    merchant = _user(role=Role.MERCHANT_STAFF)
    store = StoreFactory(owner=merchant)
    template = ShippingRateFactory(template__supplier=supplier).template
    product = ProductFactory(supplier=supplier, shipping_template=template, title="手工陶瓷马克杯")
    listing = ListingFactory(store=store, sku=SKUFactory(product=product), price=Decimal("68.00"))
    buyer = UserFactory()
    order, _created = orders.order_submit(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": 2}],
                                          address_id=AddressFactory(user=buyer).pk, idempotency_key="browser-1")
    payments.simulated_gateway_pay(order=order)
    return {"order": order, "merchant": merchant, "supplier_member": supplier_member,
            "shipment": Shipment.objects.get(order=order),
            "operator": _user(role=Role.OPERATOR, is_staff=True, is_superuser=True)}


def _dashboard_draws_its_charts(console_page, site: str) -> None:
    console_page.page.wait_for_function("() => typeof Chart !== 'undefined'")
    drawn = console_page.page.evaluate(CHARTS_DRAWN)
    assert drawn, f"{site}: the dashboard has no chart"
    assert all(points > 0 for points in drawn), f"{site}: charts without data or not drawn: {drawn}"


@pytest.mark.parametrize(("site", "user_key", "order_path"), [
    ("admin", "operator", "/admin/mall/order/{order}/change/"),
    ("merchant", "merchant", "/merchant/mall/order/{order}/change/"),
    ("supplier", "supplier_member", "/supplier/mall/shipment/{shipment}/change/"),
])
def test_each_site_logs_in_draws_its_dashboard_and_opens_an_order(console_page, shop, site, user_key, order_path):
    console_page.log_in(site, shop[user_key].phone, PASSWORD)
    _dashboard_draws_its_charts(console_page, site)
    assert console_page.page.locator("#dashboard").is_visible()
    console_page.screenshot(f"{site}-dashboard")

    console_page.open(order_path.format(order=shop["order"].pk, shipment=shop["shipment"].pk))
    assert shop["order"].number in console_page.page.content()
    console_page.screenshot(f"{site}-order")
    assert console_page.problems == []
