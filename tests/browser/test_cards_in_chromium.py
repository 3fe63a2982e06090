"""The acceptance of the H5 card page and the radar, in headless Chromium: an anonymous visitor opens a card
through a share link on a phone-sized screen, looks at a product, copies the WeChat id, shares the card on and
leaves; the visit consumer runs as the beat would; the rep, logged into the merchant console with the radar page
open, sees the visit arrive live (Server-Sent Events), and finds the lead in the leads list. No page logs a console
error or loads anything that fails."""
import time
from decimal import Decimal

import pytest
from django.test import override_settings

from accounts.models import Role
from cards import radar
from cards.models import CardVisit, Lead, Share
from cards.services import sharing
from core.models import BehaviourEvent
from mall.models import StoreStaff
from tests.browser.conftest import ConsolePage
from tests.cards.conftest import visits_run
from tests.factories import ListingFactory, ProductFactory, SKUFactory, StoreFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PASSWORD = "browser-test-Pass-2026"


@pytest.fixture
def shared_card():
    """A rep with a published card featuring one product, and the share link the rep sent out."""
    rep = UserFactory(role=Role.MERCHANT_STAFF, nickname="王小明")
    rep.set_password(PASSWORD)
    rep.save()
    store = StoreFactory(name="好物旗舰店")
    StoreStaff.objects.create(store=store, user=rep)
    listing = ListingFactory(store=store, price=Decimal("68.00"),
                             sku=SKUFactory(product=ProductFactory(title="手工陶瓷马克杯")))
    card = sharing.card_save(owner=rep, store_id=store.pk, name="王小明", title="销售经理", company="好物旗舰店",
                             phone="13800138000", wechat_id="wxm-2026", intro="十年家居好物，欢迎咨询",
                             featured_listing_ids=[listing.pk])
    card = sharing.card_publish(owner=rep, card_id=card.pk)
    return {"rep": rep, "card": card, "listing": listing, "share": sharing.share_create(card_id=card.pk,
                                                                                         user_id=rep.pk)}


def _tracked(page, action: str):
    """Wait for the page's tracking request of `action` and its 204."""
    return page.expect_response(lambda response: response.url.endswith("/api/v1/cards/track")
                                and f'"action":"{action}"' in (response.request.post_data or "")
                                and response.status == 204)


@override_settings(RADAR_HEARTBEAT_SECONDS=1)
def test_a_visit_through_a_share_link_appears_live_in_the_reps_radar(chromium, live_server, shared_card):
    card, share, listing = shared_card["card"], shared_card["share"], shared_card["listing"]
    phone = chromium.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                 is_mobile=True, has_touch=True, timezone_id="Asia/Shanghai")
    desk = chromium.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        visitor = ConsolePage(phone.new_page(), live_server.url)
        visitor.page.set_default_timeout(15_000)
        with _tracked(visitor.page, "view_card"):
            visitor.open(f"/c/{share.pk}")
        assert visitor.page.locator("#card-name").inner_text() == "王小明"
        assert visitor.page.locator("#card-phone").inner_text() == "138****8000"
        device_id = visitor.page.evaluate("() => localStorage.getItem('mall.visitorId')")
        assert device_id
        visitor.screenshot("card-h5-opened")

        with _tracked(visitor.page, "view_product"):
            visitor.page.click(f"a.product[data-listing-id='{listing.pk}']")
        assert visitor.page.locator(f"#product-{listing.pk}").is_visible()
        visitor.screenshot("card-h5-product")
        visitor.page.click(f"#product-{listing.pk} .close")

        with _tracked(visitor.page, "copy_wechat"):
            visitor.page.click("#copy-wechat")
        visitor.page.wait_for_selector("#toast:not([hidden])")

        visitor.page.click("#open-share")
        with visitor.page.expect_response(lambda response: response.url.endswith("/api/v1/cards/shares")
                                          and response.status == 201):
            visitor.page.click("#share-sheet [data-channel='group']")
        visitor.page.wait_for_function(
            "() => { const qr = document.getElementById('share-qr'); return qr.complete && qr.naturalWidth > 0; }")
        link = visitor.page.input_value("#share-link")
        forwarded = Share.objects.get(parent=share)
        assert link == f"{live_server.url}/c/{forwarded.pk}"
        assert (forwarded.depth, forwarded.channel, forwarded.sharer_key) == (2, "group", f"v:{device_id}")
        visitor.screenshot("card-h5-shared")
        visitor.page.click("#share-sheet .close")

        visitor.page.click("#open-chat")
        visitor.page.wait_for_selector("#chat-log li.empty")
        visitor.page.fill("#chat-text", "这个杯子有现货吗？<b>急</b>")
        with _tracked(visitor.page, "chat"):
            visitor.page.click("#chat-form button[type=submit]")
        assert visitor.page.locator("#chat-log li.mine").inner_text() == "这个杯子有现货吗？<b>急</b>"  # as text
        visitor.screenshot("card-h5-chat")
        visitor.page.click("#chat-sheet .close")

        # The visitor leaves (switches to another app): the dwell goes out by sendBeacon, the device in its body.
        beacons = visitor.page.evaluate("""() => {
            let sent = 0;
            const send = navigator.sendBeacon.bind(navigator);
            navigator.sendBeacon = (url, body) => { sent += 1; return send(url, body); };
            Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
            return sent;
        }""")
        assert beacons == 1
        left = _wait_for_the_beacon(card)
        assert left.visitor_id == device_id and left.actor_id is None and left.payload["dwell_seconds"] >= 1
        assert left.payload["share_id"] == share.pk
        assert visitor.problems == []

        rep_page = ConsolePage(desk.new_page(), live_server.url)
        rep_page.page.set_default_timeout(15_000)
        rep_page.log_in("merchant", shared_card["rep"].phone, PASSWORD)
        rep_page.open("/merchant/cards/cardvisit/")
        rep_page.page.wait_for_selector("#radar-status[data-state='live']")
        assert rep_page.page.locator("#radar-empty").is_visible()

        visits_run()  # what the beat does every few seconds

        item = rep_page.page.wait_for_selector(".radar-item.radar-new .radar-text")
        assert item.inner_text().startswith(f"访客{device_id[-4:]}复制了你的微信号")
        assert "看了商品「手工陶瓷马克杯」" in item.inner_text()
        rep_page.screenshot("card-radar-live")
        assert rep_page.problems == []

        lead = Lead.objects.get(card=card)
        assert (lead.visitor_key, lead.stage, lead.visits) == (f"v:{device_id}", Lead.Stage.INTERESTED, 1)
        leads_page = ConsolePage(desk.new_page(), live_server.url)  # the radar stays open in its own tab
        leads_page.open("/merchant/cards/lead/")
        row = leads_page.page.locator("#result_list tbody tr").first
        assert f"访客{device_id[-4:]}" in row.inner_text() and "有意向" in row.inner_text()
        leads_page.screenshot("card-leads-list")
        leads_page.open(f"/merchant/cards/lead/{lead.pk}/change/")
        assert "复制微信 1 次" in leads_page.page.content()
        assert "这个杯子有现货吗？<b>急</b>" in leads_page.page.locator(".radar-chat").inner_text()
        leads_page.page.fill("#id_reply", "有现货，今天下单明天发")
        leads_page.page.fill("#id_note", "问现货，已回复")
        with leads_page.page.expect_navigation():
            leads_page.page.click("button[name=_continue]")
        assert "有现货，今天下单明天发" in leads_page.page.locator(".radar-chat").inner_text()
        leads_page.screenshot("card-lead-page")
        assert leads_page.problems == []

        visitor.page.click("#open-chat")  # the visitor reads the answer in the card page's chat
        visitor.page.wait_for_selector("#chat-log li.theirs")
        assert visitor.page.locator("#chat-log li.theirs").inner_text() == "有现货，今天下单明天发"
        assert visitor.problems == []
    finally:
        phone.close()
        desk.close()
    _wait_for_the_streams_to_end()


def _wait_for_the_beacon(card) -> BehaviourEvent:
    """The `leave` event the beacon recorded (a beacon's answer goes to nobody: the server is asked)."""
    deadline = time.monotonic() + 10
    while True:
        event = BehaviourEvent.objects.filter(kind="card_action", object_id=str(card.pk),
                                              payload__action="leave").first()
        if event is not None:
            return event
        assert time.monotonic() < deadline, "the leave beacon never arrived"
        time.sleep(0.1)


def _wait_for_the_streams_to_end() -> None:
    """The radar stream of the closed page ends at its next heartbeat and gives its server thread back."""
    deadline = time.monotonic() + 10
    while radar.waiting_slots.taken:
        assert time.monotonic() < deadline, "a radar stream kept its slot after its page closed"
        time.sleep(0.1)
    assert CardVisit.objects.count() == 1
