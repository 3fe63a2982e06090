"""The operator admin's tests: an operator, and a world with at least one row of every model of our apps."""
import zlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import tokens
from accounts.models import LoginCode, Role, User, WechatAccount
from cards.models import (
    CardVisit,
    CommissionAccount,
    CustomerAssignment,
    DistributionBinding,
    Lead,
    Referral,
    VisitorIdentity,
)
from cards.services import commission, leads, sharing
from cards.services import messages as card_messages
from core.ml.registry import JSON, json_artefact, model_version_register
from core.models import EventCursor, EventDailyCount, EventDelivery
from mall.models import AfterSale, GroupBuyTeam, Listing, Order, Shipment, StoreStaff
from mall.services import after_sales, bargains, catalogue, coupons, group_buys, orders
from supply import images
from supply import services as supply_services
from supply.models import PricingRule, Supplier
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
from tests.mall.conftest import pay, place
from tests.supply import pictures


@pytest.fixture
def operator(db) -> User:
    return UserFactory(role=Role.OPERATOR, is_staff=True, is_superuser=True)


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def supplier(db) -> Supplier:
    supplier = SupplierFactory()
    supplier.rate = ShippingRateFactory(template__supplier=supplier)  # 10.00 first kg, free from 99.00
    return supplier


@pytest.fixture
def listing(supplier) -> Listing:
    """50.00 (SKU floor 30.00), 100 in stock, shipped under the supplier's template."""
    product = ProductFactory(supplier=supplier, shipping_template=supplier.rate.template)
    return ListingFactory(store=StoreFactory(), sku=SKUFactory(product=product), price=Decimal("50.00"))


@pytest.fixture
def buyer(db) -> User:
    return UserFactory()


@pytest.fixture
def address(buyer):
    return AddressFactory(user=buyer)


def paid_order(buyer, address, listing, key: str) -> Order:
    return pay(place(buyer, address, listing, key=key))


def shipped_order(buyer, address, listing, key: str) -> Order:
    order = paid_order(buyer, address, listing, key)
    shipment = order.shipments.get()
    orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier, carrier="顺丰速运",
                         tracking_number=f"SF{order.pk:010d}")
    order.refresh_from_db()
    return order


@dataclass
class World:
    supplier: Supplier
    listing: Listing
    buyer: User
    shipped: Order
    refunded: Order


def world_build(*, supplier, listing, buyer, address, key: str) -> World:
    """One row (at least) of every model of core, accounts, supply, mall and cards, written through the services where
    there is one. Built again with another `key`, it adds a second row of each (for query counts)."""
    store = listing.store
    SupplierFactory()  # another supplier and store: the filters by supplier and by store show
    StoreFactory()
    PricingRule.objects.create(supplier=supplier, tier=3, mode=PricingRule.Mode.MULTIPLIER, value=Decimal("1.05"))
    supply_services.inventory_sync(supplier=supplier, batch_id=f"{key}-sync", rows=[
        supply_services.SyncRow(sku_code=listing.sku.code, quantity=100, as_of=timezone.now())])
    supply_services.product_refresh_search(product=listing.sku.product)  # its words reach the search vocabulary
    StoreStaff.objects.create(store=store, user=UserFactory(role=Role.MERCHANT_STAFF))
    catalogue.cart_add(user=UserFactory(), listing_id=listing.pk, quantity=1)
    coupons.coupon_claim(user=buyer, template_id=CouponTemplateFactory(store=store).pk)
    shipped = shipped_order(buyer, address, listing, f"{key}-shipped")
    refunded = paid_order(buyer, address, listing, f"{key}-refunded")
    after_sale = after_sales.after_sale_request(buyer=buyer, order_id=refunded.pk, line_id=refunded.lines.get().pk,
                                                kind=AfterSale.Kind.REFUND_ONLY, quantity=1, reason="不想要了")
    after_sales.after_sale_approve(after_sale_id=after_sale.pk, store=store, actor=store.owner)
    group_buys.group_buy_open(buyer=buyer, campaign_id=GroupBuyCampaignFactory(listing=listing).pk,
                              address_id=address.pk, quantity=1, idempotency_key=f"{key}-team")
    now = timezone.now()
    campaign = bargains.bargain_campaign_create(listing=listing, floor_price=Decimal("35.00"), helpers_needed=3,
                                                starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=2))
    session = bargains.bargain_open(owner=buyer, campaign_id=campaign.pk)
    bargains.bargain_help(session_id=session.pk, helper=UserFactory())
    LoginCode.objects.create(phone=buyer.phone, code_hash="0" * 64, expires_at=now + timedelta(minutes=5))
    tokens.auth_session_refresh(refresh_token=AuthSessionFactory(user=buyer).issued_refresh_token)
    wechat_only = User.objects.create_user(None)  # came in through WeChat, no phone yet
    WechatAccount.objects.create(user=wechat_only, appid="wx5f2a0d1b3c4e6a78", openid=f"o-{key}-openid",
                                 unionid=f"u-{key}-unionid", session_key="never shown")
    EventDelivery.objects.create(event_id=shipped.pk, kind="order_paid", handler=f"tests.{key}")
    EventCursor.objects.create(consumer=f"tests.{key}", last_run_at=now, last_event_at=now)
    EventDailyCount.objects.create(day=timezone.localdate(), kind=f"{key}_kind", count=2)
    model_version_register(name=f"tests.{key}", artefact=json_artefact({"weights": [1.5]}), artefact_format=JSON,
                           metrics={"held_out": {"auc": 0.75, "ece": 0.04}}, activate=True)
    images.product_image_upload(supplier=supplier, product_id=listing.sku.product_id,
                                data=pictures.jpeg(900 + zlib.crc32(key.encode()) % 500, 900), alt_text=key)
    images.product_picture_generate(product_id=ProductFactory(supplier=supplier).pk)
    _cards_world(store=store, listing=listing, buyer=buyer, shipped=shipped, key=key)
    assert GroupBuyTeam.objects.exists() and Shipment.objects.filter(status=Shipment.Status.SHIPPED).exists()
    return World(supplier=supplier, listing=listing, buyer=buyer, shipped=shipped, refunded=refunded)


def _cards_world(*, store, listing, buyer, shipped, key: str) -> None:
    """A rep of the store with a published card, a share, a visit, a chat message, a first touch, a lead followed
    up, a customer reassigned by the store's owner, the store's distribution plan, the buyer's binding, a
    commission earned on the shipped order and a withdrawal (rows the visit consumer and the ledger write are
    written directly: the consumer reads only committed events, and this world lives in one transaction)."""
    now = timezone.now()
    rep = UserFactory(role=Role.MERCHANT_STAFF)
    StoreStaff.objects.create(store=store, user=rep)
    card = sharing.card_save(owner=rep, store_id=store.pk, name=f"导购{key}", phone="13800138000",
                             featured_listing_ids=[listing.pk])
    sharing.card_publish(owner=rep, card_id=card.pk)
    share = sharing.share_create(card_id=card.pk, user_id=rep.pk)
    VisitorIdentity.objects.create(visitor_id=f"device-{key}-0001", user=buyer, identified_at=now)
    CardVisit.objects.create(visit_key=f"{card.pk}:{key}", card=card, visitor_key=f"u:{buyer.pk}", user=buyer,
                             share=share, started_at=now, last_seen_at=now, dwell_seconds=30,
                             actions={"view_card": 1})
    card_messages.message_from_visitor(card_id=card.pk, text="有现货吗？", client_key=f"{key}-message-1",
                                       user_id=buyer.pk)
    Referral.objects.create(card=card, visitor_key=f"u:{buyer.pk}", share=share, first_at=now, bound_at=now)
    lead = Lead.objects.create(owner=rep, card=card, store=store, visitor_key=f"u:{buyer.pk}", user=buyer,
                               first_seen_at=now, last_seen_at=now, visits=1)
    leads.lead_update(user=rep, lead_id=lead.pk, stage=Lead.Stage.CONTACTED, note="电话沟通")
    customer = UserFactory()
    CustomerAssignment.objects.create(store=store, customer=customer, rep=rep)
    leads.customer_reassign(manager=store.owner, store_id=store.pk, customer_id=customer.pk, to_rep_id=store.owner_id,
                            reason="原导购休假")
    commission.distribution_plan_save(store_id=store.pk, level1_rate=Decimal("0.10"), level2_rate=Decimal("0.05"))
    DistributionBinding.objects.get_or_create(store=store, buyer=buyer,
                                              defaults={"share": share, "level1": rep, "bound_at": now})
    commission.commission_on_order_paid(order_id=shipped.pk)
    CommissionAccount.objects.get_or_create(user=rep)
    CommissionAccount.objects.filter(user=rep).update(withdrawable=Decimal("100.00"))
    commission.withdrawal_request(user=rep, amount=Decimal("50.00"), idempotency_key=f"{key}-withdrawal")


@pytest.fixture
def world(supplier, listing, buyer, address) -> World:
    return world_build(supplier=supplier, listing=listing, buyer=buyer, address=address, key="world")
