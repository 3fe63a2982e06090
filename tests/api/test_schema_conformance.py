"""The OpenAPI schema tells the truth: schemathesis calls every operation of the app with generated input (valid and
invalid) and checks that no answer is a 500, that every status is one the schema declares and that every body
matches the declared schema.

The schema is loaded from the app itself and the calls go to the WSGI app in this process, so they share the test's
database transaction: what an example changes (an order paid, a token revoked) is rolled back after each operation.
Half of the generated path ids are swapped for ids of rows the shopper can reach, so that operations get past the
404 and answer from real data.
"""
from datetime import timedelta
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from accounts.models import AuthSession
from config.wsgi import application
from engagement.models import Reward
from mall.services import bargains, coupons, group_buys, orders
from supply import images
from supply.models import Stock
from tests.factories import (
    AddressFactory,
    AuthSessionFactory,
    CouponTemplateFactory,
    GroupBuyCampaignFactory,
    ListingFactory,
    ProductFactory,
    ShippingRateFactory,
    SKUFactory,
    StoreFactory,
    SupplierFactory,
    UserFactory,
)
from tests.supply import pictures

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# The WSGI transport of schemathesis calls the app with this host.
HOST = "localhost"
EXAMPLES_PER_OPERATION = 12

with override_settings(ALLOWED_HOSTS=[HOST]):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture(autouse=True)
def _in_the_test_transaction(settings):
    """Keep each request on the test's connection, inside its transaction, as Django's own test client does."""
    settings.ALLOWED_HOSTS = [HOST]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, wechat) -> dict:
    """A demo-like shopper: a login, an address, a cart, a coupon, an unpaid and a delivered order, a group-buy team to
    join, a bargain session, an after-sale request; and a supplier with its API token and a product picture."""
    shopper = UserFactory(nickname="测试买家")
    login = AuthSessionFactory(user=shopper)
    address = AddressFactory(user=shopper)
    supplier = SupplierFactory()
    rate = ShippingRateFactory(template__supplier=supplier)
    store = StoreFactory()
    listings = [ListingFactory(store=store, price=Decimal("50.00"), sku=SKUFactory(
        product=ProductFactory(supplier=supplier, shipping_template=rate.template))) for _ in range(3)]
    cart_item = shopper.cart_items.create(listing=listings[0], quantity=1)
    template = CouponTemplateFactory(store=store)
    coupons.coupon_claim(user=shopper, template_id=CouponTemplateFactory(store=store).pk)
    unpaid, _created = orders.order_submit(buyer=shopper, lines=[{"listing_id": listings[0].pk, "quantity": 1}],
                                           address_id=address.pk, idempotency_key="conformance-unpaid")
    campaign = GroupBuyCampaignFactory(listing=listings[1])
    stranger = UserFactory()
    team = group_buys.group_buy_open(buyer=stranger, campaign_id=campaign.pk, quantity=1,
                                     address_id=AddressFactory(user=stranger).pk, idempotency_key="conformance-team")
    now = timezone.now()
    bargain_campaign = bargains.bargain_campaign_create(listing=listings[2], floor_price=Decimal("30.00"),
                                                        helpers_needed=3, starts_at=now - timedelta(hours=1),
                                                        ends_at=now + timedelta(days=3))
    session = bargains.bargain_open(owner=stranger, campaign_id=bargain_campaign.pk)
    Stock.objects.filter(sku__in=[listing.sku for listing in listings]).update(available=1000)
    picture = images.product_image_upload(supplier=supplier, product_id=listings[0].sku.product_id,
                                          data=pictures.jpeg()).image
    reward = Reward.objects.create(name="积分奖品", kind=Reward.Kind.ITEM, currency="points", cost=100, stock=5)
    return {
        "shopper": shopper, "supplier": supplier, "login": login,
        "ids": {
            "listing_id": listings[0].pk, "item_id": cart_item.pk, "address_id": address.pk,
            "order_id": unpaid.pk, "team_id": team.pk, "session_id": session.pk,
            "campaign_id": {"group-buys": campaign.pk, "bargains": bargain_campaign.pk},
            "template_id": template.pk, "product_id": listings[0].sku.product_id, "image_id": picture.pk,
            "reward_id": reward.pk,
        },
    }


def reachable_ids(case, ids: dict) -> None:
    """Swap half of the generated path ids (the even ones) for ids of rows that exist."""
    for name, value in (case.path_parameters or {}).items():
        known = ids.get(name)
        if isinstance(known, dict):
            known = next((row for prefix, row in known.items() if case.path.startswith(f"/api/v1/{prefix}/")), None)
        if known is not None and str(value)[-1:] in "02468":
            case.path_parameters[name] = str(known)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_operation_answers_as_its_schema_says(case, world):
    reachable_ids(case, world["ids"])
    if case.path.startswith("/api/v1/supplier/"):
        headers = {"Authorization": f"Bearer {world['supplier'].issued_token}"}
    else:
        headers = {"Authorization": f"Token {world['login'].issued_access_token}"}
    case.call_and_validate(headers=headers,
                           checks=[not_a_server_error, response_schema_conformance, status_code_conformance])
    # A generated logout ends the session: start it again so the next example is still logged in.
    AuthSession.objects.filter(user=world["shopper"]).update(revoked_at=None, revoked_reason="")
