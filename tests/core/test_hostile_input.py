"""Hostile input (deep nesting, NUL, lone surrogates, broken UTF-8, odd headers) is a 4xx with our error shape on
every endpoint, and changes nothing (core/parsers.py, core/middleware.py)."""
import itertools
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.sms import MemorySmsBackend
from cards.models import Lead
from cards.services import sharing
from core.models import BehaviourEvent
from core.parsers import MAX_DEPTH
from engagement.models import Reward
from mall.models import Address, CartItem, Order, StoreStaff
from mall.services import after_sales, bargains, group_buys, orders
from supply import images
from supply.models import ProductImage, Stock, Supplier
from tests.factories import (
    AddressFactory,
    AuthSessionFactory,
    GroupBuyCampaignFactory,
    ListingFactory,
    ProductFactory,
    ShippingRateFactory,
    SKUFactory,
    SupplierFactory,
    UserFactory,
)
from tests.mall.conftest import pay, place
from tests.supply import pictures

pytestmark = pytest.mark.django_db

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def nested(depth: int):
    document: list = []
    for _ in range(depth - 1):
        document = [document]
    return document


def fields_with(text: str) -> dict:
    """A body naming the fields our endpoints take, each carrying `text`: without the parsers' check it would reach
    validation, and the database."""
    return {"phone": text, "code": "123456", "nickname": text, "recipient": text, "region_code": text,
            "detail": text, "reason": text, "carrier": text, "tracking_number": text, "idempotency_key": text,
            "batch_id": "batch-1", "rows": [{"sku": text, "quantity": 1, "as_of": "2026-01-01T00:00:00Z"}],
            "lines": [{"listing_id": 1, "quantity": 1}], "quantity": 1, "address_id": 1}


# name: (content type, body, the code a parser refuses it with)
HOSTILE_BODIES = {
    "2,000 nested arrays": (JSON, b"[" * 2000 + b"]" * 2000, "too_deeply_nested"),  # the 4 KB of the black-box run
    "2,000 nested objects": (JSON, b'{"a":' * 2000 + b"1" + b"}" * 2000, "too_deeply_nested"),
    "one level too deep": (JSON, json.dumps(nested(MAX_DEPTH + 1)).encode(), "too_deeply_nested"),
    "NUL in a value": (JSON, json.dumps(fields_with("\u0000")).encode(), "invalid_characters"),
    "lone surrogate in a value": (JSON, json.dumps(fields_with("\ud800")).encode(), "invalid_characters"),
    "lone surrogate in a key": (JSON, json.dumps({"\ud800": "x", **fields_with("ok")}).encode(), "invalid_characters"),
    "invalid UTF-8": (JSON, b'{"phone": "\xff\xfe\xed\xa0\x80"}', "malformed_request"),
    "NUL in a form field": (FORM, b"phone=%00&nickname=%00&quantity=1", "invalid_characters"),
    "NUL in a multipart field": (MULTIPART_CONTENT, encode_multipart(BOUNDARY, {"phone": "\x00", "nickname": "\x00"}),
                                 "invalid_characters"),
}

# Query strings with a NUL in a value, in a name, in every parameter the schema declares.
HOSTILE_QUERIES = ["q=%00", "page=1&%00=1", "x=%00"]
BOGUS_IDS = {"provider": "no-such-provider", "share_id": "no-such-share-0"}


@pytest.fixture
def world(shopper, wechat):
    """One real object behind every id of the schema's paths, the shopper's where there is an owner; WeChat login
    and WeChat Pay enabled (against the local WeChat), so their endpoints meet the input rather than a 404."""
    supplier = SupplierFactory()
    rate = ShippingRateFactory(template__supplier=supplier)
    listing = ListingFactory(sku=SKUFactory(product=ProductFactory(supplier=supplier, shipping_template=rate.template)),
                             price=Decimal("50.00"))
    address = AddressFactory(user=shopper)
    delivered = pay(place(shopper, address, listing, key="hostile-delivered-1"))
    for shipment in delivered.shipments.all():
        orders.shipment_ship(shipment_id=shipment.pk, supplier=supplier, carrier="SF", tracking_number="SF1")
        orders.shipment_deliver(shipment_id=shipment.pk)
    after_sale = after_sales.after_sale_request(buyer=shopper, order_id=delivered.pk, line_id=delivered.lines.get().pk,
                                                kind="refund_only", quantity=1, reason="不想要了")
    leader = UserFactory()
    group_buy = GroupBuyCampaignFactory(listing=listing)
    team = group_buys.group_buy_open(buyer=leader, campaign_id=group_buy.pk, quantity=1,
                                     address_id=AddressFactory(user=leader).pk, idempotency_key="hostile-leader-1")
    pay(Order.objects.get(group_buy_member__team=team, buyer=leader))
    rep = UserFactory(role="merchant_staff")
    StoreStaff.objects.create(store=listing.store, user=rep)
    card = sharing.card_publish(owner=rep, card_id=sharing.card_save(owner=rep, store_id=listing.store_id,
                                                                     name="王小明", phone="13800138000").pk)
    share = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    lead = Lead.objects.create(owner=shopper, card=card, store=listing.store, visitor_key="v:hostile-visitor",
                               first_seen_at=timezone.now(), last_seen_at=timezone.now())
    picture = images.product_image_upload(supplier=supplier, product_id=listing.sku.product_id,
                                          data=pictures.jpeg()).image
    reward = Reward.objects.create(name="积分奖品", kind=Reward.Kind.ITEM, currency="points", cost=100, stock=5)
    bargain = bargains.bargain_campaign_create(listing=listing, floor_price=Decimal("30.00"), helpers_needed=5,
                                               starts_at=timezone.now() - timedelta(hours=1),
                                               ends_at=timezone.now() + timedelta(days=3))
    return {
        "supplier": supplier,
        "ids": {
            "address_id": address.pk,
            "item_id": CartItem.objects.create(user=shopper, listing=listing, quantity=2).pk,
            "listing_id": listing.pk,
            "order_id": delivered.pk,
            "after_sale_id": after_sale.pk,
            "team_id": team.pk,
            "session_id": bargains.bargain_open(owner=shopper, campaign_id=bargain.pk).pk,
            "group_buy_campaign_id": group_buy.pk,
            "bargain_campaign_id": bargain.pk,
            "provider": "simulated",
            "card_id": card.pk,
            "share_id": share.pk,
            "lead_id": lead.pk,
            "product_id": listing.sku.product_id,
            "image_id": picture.pk,
            "reward_id": reward.pk,
        },
    }


def callers(shopper, supplier) -> dict[str, APIClient]:
    """Anonymous, the shopper with a real token, and a supplier with its real Bearer token: authentication runs."""
    shopper_client, supplier_client = APIClient(), APIClient()
    shopper_client.credentials(HTTP_AUTHORIZATION=f"Token {AuthSessionFactory(user=shopper).issued_access_token}")
    supplier_client.credentials(HTTP_AUTHORIZATION=f"Bearer {supplier.issued_token}")
    return {"anonymous": APIClient(), "shopper": shopper_client, "supplier": supplier_client}


def operations():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def real_url(path: str, ids: dict) -> str:
    def real_id(match: re.Match) -> str:
        name = match[1]
        if name == "campaign_id":
            name = "bargain_campaign_id" if path.startswith("/api/v1/bargains/") else "group_buy_campaign_id"
        return str(ids[name])

    return re.sub(r"\{(\w+)\}", real_id, path)


def bogus_url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: BOGUS_IDS.get(match[1], "999999999"), path)


def state() -> tuple:
    """Every row count of our apps, and the rows a hostile request could have written to."""
    counts = {model._meta.label: model.objects.count()
              for label in ("accounts", "supply", "mall", "cards", "engagement")
              for model in apps.get_app_config(label).get_models()}
    counts["behaviour events"] = BehaviourEvent.objects.count()
    rows = [list(model.objects.order_by("pk").values())
            for model in (User, Address, CartItem, Order, Stock, Supplier, ProductImage)]
    return counts, rows, len(MemorySmsBackend.outbox), pictures.stored_files()


def assert_error_shape(response, context) -> None:
    assert response.status_code < 500, (*context, response.status_code)
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), (*context, response["Content-Type"])
        payload = response.json()
        assert set(payload) == {"code", "message", "detail"}, (*context, payload)
        assert payload["code"] and payload["message"], (*context, payload)


def test_a_walk_over_every_operation_with_hostile_input_gives_4xx_and_changes_nothing(shopper, world):
    clients = callers(shopper, world["supplier"])
    before = state()
    addresses = (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1))
    refused_by_parser: dict[str, set] = {name: set() for name in HOSTILE_BODIES}
    checked = 0
    for path, method, operation in operations():
        query_names = [parameter["name"] for parameter in operation.get("parameters", [])
                       if parameter["in"] == "query"]
        queries = [*HOSTILE_QUERIES, "&".join(f"{name}=%00" for name in [*query_names, "page", "page_size"])]
        for caller, client in clients.items():
            for url in dict.fromkeys([real_url(path, world["ids"]), bogus_url(path)]):
                # A fresh client address for each request: the login throttles count per address, and a 429
                # would answer before the body is read.
                for query in queries:
                    response = client.generic(method.upper(), f"{url}?{query}", REMOTE_ADDR=next(addresses))
                    assert_error_shape(response, (caller, method, url, query))
                    assert (response.status_code, response.json()["code"]) == (400, "invalid_characters"), (
                        caller, method, url, query)
                    checked += 1
                # An operation without a body acts on a real id whatever its body says: send it bodies only with
                # bogus ids.
                if "requestBody" not in operation and ("{" not in path or url != bogus_url(path)):
                    continue
                for name, (content_type, body, code) in HOSTILE_BODIES.items():
                    response = client.generic(method.upper(), url, body, content_type=content_type,
                                              REMOTE_ADDR=next(addresses))
                    assert_error_shape(response, (caller, method, url, name))
                    if response.status_code == 400 and response.json()["code"] == code:
                        refused_by_parser[name].add((caller, method, path))
                    checked += 1
    assert checked > 1000
    assert state() == before
    # Each body met a parser on every operation that takes a body, as the shopper with real ids and, on the supplier
    # API (which refuses the shopper before reading a body), as the supplier.
    body_operations = {(method, path) for path, method, operation in operations() if "requestBody" in operation}
    supplier_operations = {("put", "/api/v1/supplier/stock"),
                           ("post", "/api/v1/supplier/products/{product_id}/images"),
                           ("put", "/api/v1/supplier/products/{product_id}/images/order")}
    assert supplier_operations <= body_operations
    for name, refusals in refused_by_parser.items():
        reached = {(method, path) for caller, method, path in refusals if caller == "shopper"}
        # The payment callbacks read the raw signed body (no parser), the supplier endpoint authenticates first.
        assert body_operations - reached <= {("post", "/api/v1/payments/callback/{provider}"),
                                             ("post", "/api/v1/payments/callback/wechatpay"),
                                             *supplier_operations}, name
        for method, path in supplier_operations:
            assert ("supplier", method, path) in refusals, (name, method, path)


@pytest.mark.parametrize("name", HOSTILE_BODIES)
def test_each_hostile_body_on_the_login_code_endpoint_is_a_400_with_its_own_code(api_client, name):
    content_type, body, code = HOSTILE_BODIES[name]
    before = state()
    response = api_client.generic("POST", "/api/v1/auth/code", body, content_type=content_type)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert set(response.json()) == {"code", "message", "detail"}
    assert state() == before


def test_the_refusal_says_where_without_echoing_the_text(api_client):
    response = api_client.generic("POST", "/api/v1/auth/code", json.dumps({"phone": "138\u0000"}), content_type=JSON)
    assert response.json()["detail"] == {"in": "body", "path": ["phone"]}
    response = api_client.generic("POST", "/api/v1/auth/code", json.dumps({"lines": [{"note": "\ud800"}]}),
                                  content_type=JSON)
    assert response.json()["detail"] == {"in": "body", "path": ["lines", 0, "note"]}
    response = api_client.get("/api/v1/listings?q=%00")
    assert (response.status_code, response.json()["detail"]) == (400, {"in": "query", "path": ["q"]})


def test_nesting_up_to_the_limit_and_valid_surrogate_pairs_are_ordinary_input(shopper_client, shopper):
    response = shopper_client.generic("PATCH", "/api/v1/me", json.dumps({"nickname": nested(MAX_DEPTH - 1)}),
                                      content_type=JSON)
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    response = shopper_client.generic("PATCH", "/api/v1/me", b'{"nickname": "\\ud83d\\ude00 \xe5\xb0\x8f\xe6\x98\x8e"}',
                                      content_type=JSON)
    assert response.status_code == 200
    shopper.refresh_from_db()
    assert shopper.nickname == "😀 小明"


def test_an_encoded_surrogate_in_a_query_string_is_replaced_not_refused(api_client):
    # Django decodes query strings with errors="replace": UTF-8 bytes of a surrogate arrive as U+FFFD.
    response = api_client.get("/api/v1/listings?q=%ED%A0%80")
    assert (response.status_code, response.json()["count"]) == (200, 0)


MOJIBAKE = "令牌".encode().decode("latin-1")  # what a WSGI server hands over for UTF-8 bytes in a header


# name: (method, url, header, value, (status, code))
HOSTILE_HEADERS = {
    "UTF-8 Token": ("GET", "/api/v1/me", "HTTP_AUTHORIZATION", f"Token {MOJIBAKE}", (401, "authentication_failed")),
    "non-Latin-1 Token": ("GET", "/api/v1/me", "HTTP_AUTHORIZATION", "Token 令牌", (400, "invalid_characters")),
    "NUL in Token": ("GET", "/api/v1/me", "HTTP_AUTHORIZATION", "Token abc\x00def", (400, "invalid_characters")),
    "UTF-8 Bearer": ("PUT", "/api/v1/supplier/stock", "HTTP_AUTHORIZATION", f"Bearer {MOJIBAKE}",
                     (401, "supplier_token_invalid")),
    "non-Latin-1 Bearer": ("PUT", "/api/v1/supplier/stock", "HTTP_AUTHORIZATION", "Bearer 令牌",
                           (400, "invalid_characters")),
    "NUL in Bearer": ("PUT", "/api/v1/supplier/stock", "HTTP_AUTHORIZATION", "Bearer abc\x00def",
                      (400, "invalid_characters")),
    "lone surrogate in Bearer": ("PUT", "/api/v1/supplier/stock", "HTTP_AUTHORIZATION", "Bearer \ud800",
                                 (400, "invalid_characters")),
    "NUL in the session cookie": ("GET", "/api/v1/me", "HTTP_COOKIE", "sessionid=abcdefgh\x00ijkl",
                                  (400, "invalid_characters")),
    "UTF-8 X-Signature": ("POST", "/api/v1/payments/callback/simulated", "HTTP_X_SIGNATURE", MOJIBAKE * 8,
                          (401, "signature_invalid")),
    "UTF-8 Wechatpay-Signature": ("POST", "/api/v1/payments/callback/wechatpay", "HTTP_WECHATPAY_SIGNATURE",
                                  MOJIBAKE * 8, (401, "FAIL")),
    "UTF-8 Wechatpay-Serial": ("POST", "/api/v1/payments/callback/wechatpay", "HTTP_WECHATPAY_SERIAL", MOJIBAKE,
                               (401, "FAIL")),
    "NUL in Wechatpay-Nonce": ("POST", "/api/v1/payments/callback/wechatpay", "HTTP_WECHATPAY_NONCE", "a\x00b",
                               (400, "invalid_characters")),
}


@pytest.mark.parametrize("name", HOSTILE_HEADERS)
def test_hostile_headers_are_a_4xx(api_client, wechat, name):
    method, url, header, value, expected = HOSTILE_HEADERS[name]
    before = state()
    response = api_client.generic(method, url, json.dumps({"batch_id": "b-1", "rows": []}), content_type=JSON,
                                  **{header: value})
    assert_error_shape(response, (name,))
    assert (response.status_code, response.json()["code"]) == expected
    assert state() == before


def test_a_body_over_the_upload_limit_is_a_json_400_and_changes_nothing(shopper_client):
    from mall.models import Order

    body = b'{"note": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = shopper_client.generic("POST", "/api/v1/orders", body, content_type="application/json")
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "request_too_large" and "请求体过大" in payload["message"]
    assert Order.objects.count() == 0


def test_refusals_outside_drf_speak_chinese_in_utf8(api_client):
    response = api_client.get("/api/v1/listings?q=%00")
    assert response.status_code == 400 and "不允许的字符".encode() in response.content
    response = api_client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404 and "接口不存在".encode() in response.content
