"""The landing dashboards of the three admin sites: each shows its user's own figures (mall.dashboards) for the
day the page names, and nothing else's."""
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from core.money import yuan
from mall import dashboards
from mall.models import Order
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

pytestmark = pytest.mark.django_db


def _paid_order(listing, key: str, days_ago: int = 0) -> Order:
    buyer = UserFactory()
    order, _created = orders.order_submit(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": 1}],
                                          address_id=AddressFactory(user=buyer).pk, idempotency_key=key)
    payments.simulated_gateway_pay(order=order)
    Order.objects.filter(pk=order.pk).update(paid_at=timezone.now() - timedelta(days=days_ago))
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def two_shops():
    supplier = SupplierFactory()
    template = ShippingRateFactory(template__supplier=supplier).template

    def shop(price: str):
        store = StoreFactory()
        listing = ListingFactory(store=store, price=Decimal(price), sku=SKUFactory(product=ProductFactory(
            supplier=supplier, shipping_template=template)))
        return store, listing

    mine, theirs = shop("50.00"), shop("70.00")
    _paid_order(mine[1], "mine-today")
    _paid_order(mine[1], "mine-earlier", days_ago=40)
    _paid_order(theirs[1], "theirs-today")
    return {"store": mine[0], "other_store": theirs[0], "supplier": supplier}


def _kpis(response) -> dict:
    assert response.status_code == 200
    return {kpi["key"]: kpi["value"] for kpi in response.context["dashboard"]["kpis"]}


def test_a_merchant_sees_its_own_stores_sales_of_the_day(client, two_shops):
    client.force_login(two_shops["store"].owner)
    kpis = _kpis(client.get("/merchant/"))
    figures = dashboards.merchant_figures(store_ids=[two_shops["store"].pk])
    assert kpis["today_sales"] == yuan(figures.today_sales) != yuan(0)
    assert figures.today_orders == 1  # the other store's order of today is not in it


def test_a_dashboard_looks_back_from_the_day_the_page_names(client, two_shops):
    client.force_login(two_shops["store"].owner)
    earlier = timezone.localdate() - timedelta(days=40)
    response = client.get("/merchant/", {"day": earlier.isoformat()})
    assert response.context["dashboard"]["period"]["day"] == earlier.isoformat()
    figures = dashboards.merchant_figures(store_ids=[two_shops["store"].pk], today=earlier)
    assert _kpis(response)["today_sales"] == yuan(figures.today_sales) != yuan(0)


@pytest.mark.parametrize("day", ["not-a-day", "2999-01-01", ""])
def test_a_day_that_is_not_a_past_date_shows_today(client, two_shops, day):
    client.force_login(two_shops["store"].owner)
    response = client.get("/merchant/", {"day": day})
    assert response.context["dashboard"]["period"]["day"] == timezone.localdate().isoformat()


def test_latest_opens_on_the_day_of_the_latest_paid_order(client, two_shops, settings):
    settings.DASHBOARD_DEFAULT_DAY = "latest"
    Order.objects.update(paid_at=timezone.now() - timedelta(days=100))
    client.force_login(two_shops["store"].owner)
    response = client.get("/merchant/")
    assert response.context["dashboard"]["period"]["day"] == (timezone.localdate() - timedelta(days=100)).isoformat()


def test_the_supplier_and_operator_dashboards_show_their_figures(client, two_shops):
    member = UserFactory(role=Role.SUPPLIER_STAFF)
    two_shops["supplier"].staff.add(member)
    client.force_login(member)
    kpis = _kpis(client.get("/supplier/"))
    figures = dashboards.supplier_figures(supplier_ids=[two_shops["supplier"].pk])
    assert kpis["shipments_to_send"] == figures.shipments_to_send == 3

    client.force_login(UserFactory(role=Role.OPERATOR, is_staff=True, is_superuser=True))
    response = client.get("/admin/")
    figures = dashboards.operator_figures()
    assert _kpis(response)["gmv"] == yuan(figures.gmv) != yuan(0)
    charts = response.context["dashboard"]["charts"]
    assert [chart["type"] for chart in charts] == ["line", "bar", "bar"]


def test_no_chart_draws_one_dataset_over_another(client, two_shops):
    """unfold's default bar options draw every dataset at the same place (grouped: false): ours must not."""
    client.force_login(UserFactory(role=Role.OPERATOR, is_staff=True, is_superuser=True))
    for site in ("/admin/", "/merchant/", "/supplier/"):
        for chart in client.get(site).context["dashboard"]["charts"]:
            if chart["type"] != "bar" or len(json.loads(chart["data"])["datasets"]) < 2:
                continue
            options = json.loads(chart["options"])
            assert options["grouped"] or options["scales"]["y"]["stacked"], (site, chart["title"])
