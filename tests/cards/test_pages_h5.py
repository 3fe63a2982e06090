"""The H5 card page (cards/pages.py): what it shows and to whom, what it never does (inline code, unescaped text,
the phone in full to an anonymous visitor), forged links, the share QR code, the vCard, and the tracking beacon."""
from decimal import Decimal
from html.parser import HTMLParser

import pytest
import vobject
from rest_framework.test import APIClient

from cards import pages
from cards.models import BusinessCard
from cards.services import sharing
from core.models import BehaviourEvent
from supply import images
from tests.factories import AuthSessionFactory, ListingFactory, ProductFactory, SKUFactory, UserFactory
from tests.supply import pictures

pytestmark = pytest.mark.django_db



class _Markup(HTMLParser):
    """Every element's attributes, and the scripts without a src, as a browser's parser reads the page."""

    def __init__(self, page: str):
        super().__init__()
        self.handlers: list[str] = []
        self.inline_scripts = 0
        self.styles = 0
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        names = {name for name, _value in attrs}
        self.handlers += [name for name in names if name.startswith("on")]
        self.styles += "style" in names or tag == "style"
        self.inline_scripts += tag == "script" and "src" not in names


def _no_inline_code(page: str) -> None:
    markup = _Markup(page)
    assert (markup.handlers, markup.inline_scripts, markup.styles) == ([], 0, 0)
    assert "javascript:" not in page


@pytest.fixture
def shown_card(rep, store):
    """A published card with two featured products (one with an uploaded picture) and a share link."""
    pictured = ListingFactory(store=store, price=Decimal("88.00"),
                              sku=SKUFactory(product=ProductFactory(title="手工陶瓷马克杯")))
    images.product_image_upload(supplier=pictured.sku.product.supplier, product_id=pictured.sku.product_id,
                                data=pictures.jpeg())
    plain = ListingFactory(store=store, price=Decimal("19.90"),
                           sku=SKUFactory(product=ProductFactory(title="香薰蜡烛")))
    card = sharing.card_save(owner=rep, store_id=store.pk, name="王小明", title="销售经理", company="好物旗舰店",
                             phone="13800138000", wechat_id="wxm-2026", intro="十年家居好物\n欢迎咨询",
                             theme=BusinessCard.Theme.FRESH, featured_listing_ids=[pictured.pk, plain.pk])
    card = sharing.card_publish(owner=rep, card_id=card.pk)
    card.share = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    card.listings = (pictured, plain)
    return card


def test_a_share_link_opens_the_card_with_its_products_masked_phone_and_the_share_for_the_script(client, shown_card):
    response = client.get(f"/c/{shown_card.share.pk}")
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("王小明", "销售经理", "好物旗舰店", "wxm-2026", "十年家居好物<br>欢迎咨询", "手工陶瓷马克杯",
                 "香薰蜡烛",
                 "¥88.00", "保存联系人", "分享名片", "在线咨询", "theme-fresh"):
        assert text in page, text
    assert "138****8000" in page and "13800138000" not in page  # anonymous: masked, no tel: link
    assert 'id="call"' not in page
    assert f'data-share-id="{shown_card.share.pk}"' in page and f'data-card-id="{shown_card.pk}"' in page
    picture = shown_card.listings[0].sku.product.images.get()
    assert f'src="{images.product_image_urls(image=picture)["small"]}"' in page
    assert f'href="#product-{shown_card.listings[0].pk}"' in page
    assert "/static/cards/h5/card.js" in page and "/static/cards/h5/card.css" in page


def test_the_page_has_no_inline_code_and_says_so_in_its_content_security_policy(client, shown_card):
    response = client.get(f"/c/{shown_card.share.pk}")
    _no_inline_code(response.content.decode())
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'self'" in policy and "object-src 'none'" in policy
    assert response["Cache-Control"] == "private, no-store"


def test_everything_the_rep_typed_is_escaped(client, rep, store):
    card = sharing.card_save(owner=rep, store_id=store.pk, name='<script>alert("x")</script>',
                             title='"><img src=x onerror=alert(1)>', company="A&B", wechat_id="wx\"' onclick=1",
                             intro="<b>hi</b>")
    sharing.card_publish(owner=rep, card_id=card.pk)
    page = client.get(f"/card/{card.pk}").content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>hi</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "A&amp;B" in page
    _no_inline_code(page)
    assert _Markup(page).handlers == []  # the quote in the WeChat id did not open an attribute


def test_a_visitor_logged_in_with_a_phone_sees_the_phone_in_full_and_can_call(client, shown_card):
    client.force_login(UserFactory())
    page = client.get(f"/card/{shown_card.pk}").content.decode()
    assert "13800138000" in page and 'href="tel:13800138000"' in page
    assert 'data-session="1"' in page and 'data-share-id=""' in page


@pytest.mark.parametrize("path", ["/c/forged-share-0001", "/c/short", "/c/has.dots.in.it", "/card/999999",
                                  "/c/forged-share-0001/qr.svg"])
def test_forged_links_are_a_404_page_in_chinese(client, shown_card, path):
    response = client.get(path)
    assert response.status_code == 404
    page = response.content.decode()
    assert "名片不存在或已下线" in page and "王小明" not in page


def test_a_card_taken_offline_is_a_404_through_every_link(client, shown_card, rep):
    sharing.card_publish(owner=rep, card_id=shown_card.pk, published=False)
    for path in (f"/c/{shown_card.share.pk}", f"/card/{shown_card.pk}", f"/c/{shown_card.share.pk}/qr.svg"):
        response = client.get(path)
        assert response.status_code == 404 and "名片不存在或已下线" in response.content.decode(), path


def test_the_share_qr_code_is_an_svg_of_the_link(client, shown_card):
    response = client.get(f"/c/{shown_card.share.pk}/qr.svg")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert svg.startswith("<svg") and "<path" in svg and "<script" not in svg.lower()
    other = client.get(f"/c/{sharing.share_create(card_id=shown_card.pk, visitor_id='device-cccc-0003').pk}/qr.svg")
    assert other.content != response.content  # each link has its own code


def test_the_vcard_has_the_phone_only_for_a_visitor_logged_in_with_a_phone(shown_card):
    anonymous = APIClient().get(f"/api/v1/cards/{shown_card.pk}/vcard")
    assert anonymous.status_code == 200 and anonymous["Content-Type"].startswith("text/vcard")
    assert anonymous["Content-Disposition"] == f'attachment; filename="card-{shown_card.pk}.vcf"'
    contact = vobject.readOne(anonymous.content.decode())
    assert contact.fn.value == "王小明" and contact.org.value == ["好物旗舰店"] and contact.title.value == "销售经理"
    assert "tel" not in contact.contents and "138****8000" in contact.note.value and "wxm-2026" in contact.note.value
    assert "13800138000" not in anonymous.content.decode()

    logged_in = APIClient()
    logged_in.credentials(HTTP_AUTHORIZATION=f"Token {AuthSessionFactory(user=UserFactory()).issued_access_token}")
    contact = vobject.readOne(logged_in.get(f"/api/v1/cards/{shown_card.pk}/vcard").content.decode())
    assert contact.tel.value == "13800138000" and contact.url.value.endswith(f"/card/{shown_card.pk}")


def test_the_vcard_of_an_unknown_or_offline_card_is_a_json_404(shown_card, rep):
    sharing.card_publish(owner=rep, card_id=shown_card.pk, published=False)
    for card_id in (shown_card.pk, 999999):
        response = APIClient().get(f"/api/v1/cards/{card_id}/vcard", HTTP_ACCEPT="text/vcard")
        assert response.status_code == 404 and response.json()["code"] == "card_not_found"


def test_a_beacon_names_its_device_in_the_body_and_the_header_wins_when_both_are_sent(shown_card):
    client = APIClient()
    body = {"visit_id": "open-beacon-1", "action": "leave", "share_id": shown_card.share.pk, "dwell_seconds": 42,
            "visitor_id": "device-beacon-01"}
    assert client.post("/api/v1/cards/track", body, format="json").status_code == 204
    assert client.post("/api/v1/cards/track", body, format="json",
                       HTTP_X_VISITOR_ID="device-header-01").status_code == 204
    visitors = list(BehaviourEvent.objects.filter(kind="card_action").order_by("pk").values_list("visitor_id",
                                                                                                 flat=True))
    assert visitors == ["device-beacon-01", "device-header-01"]
    event = BehaviourEvent.objects.filter(kind="card_action").first()
    assert event.payload == {"visit_id": "open-beacon-1", "action": "leave", "share_id": shown_card.share.pk,
                             "dwell_seconds": 42}  # the device id is the actor, not part of the payload


def test_a_beacon_with_a_malformed_device_id_or_none_is_refused_and_records_nothing(shown_card):
    client = APIClient()
    body = {"visit_id": "open-beacon-2", "action": "leave", "share_id": shown_card.share.pk}
    for extra, code in (({"visitor_id": "bad id!"}, "visitor_unknown"), ({}, "visitor_unknown"),
                        ({"visitor_id": 12345678}, "invalid")):
        response = client.post("/api/v1/cards/track", {**body, **extra}, format="json")
        assert response.status_code in (400, 401) and response.json()["code"] == code, extra
    assert not BehaviourEvent.objects.filter(kind="card_action").exists()


def test_pictures_from_a_plain_http_media_storage_are_allowed_by_the_policy(client, shown_card, settings):
    """docker-compose serves pictures from MinIO at http://localhost:9000/mall-media: the policy names that origin."""
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": "mall-media", "custom_domain": "localhost:9000/mall-media", "url_protocol": "http:",
                    "querystring_auth": False, "access_key": "test", "secret_key": "test-secret"}}}
    pages._content_security_policy.cache_clear()
    try:
        policy = client.get(f"/c/{shown_card.share.pk}")["Content-Security-Policy"]
        assert "img-src 'self' data: https: http://localhost:9000;" in policy
    finally:
        pages._content_security_policy.cache_clear()
