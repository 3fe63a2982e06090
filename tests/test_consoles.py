"""The supplier console (/supplier/) and the merchant console (/merchant/): who gets in, what each member sees, and
that every write goes through the services (a refusal is a form error or a message, never a 500)."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from mall.models import AfterSale, BargainCampaign, CouponTemplate, Listing, Order, Shipment, StoreStaff
from mall.services import after_sales, orders, payments
from supply.models import SKU, Product
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


def supplier_with_member():
    supplier = SupplierFactory()
    member = UserFactory(role=Role.SUPPLIER_STAFF)
    supplier.staff.add(member)
    return supplier, member


def operator():
    return UserFactory(role=Role.OPERATOR, is_staff=True, is_superuser=True)


def shippable_listing(store, supplier, **product_fields) -> Listing:
    """A 50.00 listing (floor 30.00) of a product shipped under the supplier's template."""
    template = ShippingRateFactory(template__supplier=supplier).template
    product = ProductFactory(supplier=supplier, shipping_template=template, **product_fields)
    return ListingFactory(store=store, sku=SKUFactory(product=product), price=Decimal("50.00"))


def submitted_order(listing, key: str) -> Order:
    buyer = UserFactory()
    order, _created = orders.order_submit(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": 1}],
                                          address_id=AddressFactory(user=buyer).pk, idempotency_key=key)
    return order


def paid_order(listing, key: str) -> Order:
    order = submitted_order(listing, key)
    payments.simulated_gateway_pay(order=order)
    order.refresh_from_db()
    return order


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- who gets in ---------------------------------------------------------------------------------------------------
def test_non_members_are_sent_to_the_login_page(client):
    _supplier, supplier_member = supplier_with_member()
    merchant = StoreFactory().owner
    for console in ("/supplier/", "/merchant/"):
        response = client.get(console)
        assert response.status_code == 302 and response["Location"].startswith(f"{console}login/")

    client.force_login(UserFactory())  # a shopper
    for console in ("/supplier/", "/merchant/", "/supplier/supply/product/", "/merchant/mall/order/"):
        response = client.get(console)
        assert response.status_code == 302 and response["Location"].startswith(f"/{console.split('/')[1]}/login/")

    client.force_login(supplier_member)
    assert client.get("/supplier/").status_code == 200
    assert client.get("/merchant/")["Location"].startswith("/merchant/login/")
    client.force_login(merchant)
    assert client.get("/merchant/").status_code == 200
    assert client.get("/supplier/")["Location"].startswith("/supplier/login/")


def test_a_supplier_member_logs_in_with_a_password_without_being_staff(client):
    _supplier, member = supplier_with_member()
    member.set_password("console-pass-2024")
    member.save()
    assert not member.is_staff
    response = client.post("/supplier/login/", {"username": member.phone, "password": "console-pass-2024",
                                                "next": "/supplier/"})
    assert response.status_code == 302 and response["Location"] == "/supplier/"
    assert client.get("/supplier/").status_code == 200


def test_a_non_member_cannot_log_in_to_a_console_even_with_the_right_password(client):
    shopper = UserFactory()
    shopper.set_password("shopper-pass-2024")
    shopper.save()
    response = client.post("/merchant/login/", {"username": shopper.phone, "password": "shopper-pass-2024",
                                                "next": "/merchant/"})
    assert response.status_code == 200
    assert "not a member of this console" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_store_sales_rep_is_a_member_of_the_merchant_console(client):
    rep = UserFactory(role=Role.MERCHANT_STAFF)
    StoreStaff.objects.create(store=StoreFactory(), user=rep)
    client.force_login(rep)
    assert client.get("/merchant/").status_code == 200


def test_an_operator_opens_both_consoles_and_sees_every_supplier_and_store(client):
    store_a, store_b = StoreFactory(), StoreFactory()
    listing_a = shippable_listing(store_a, SupplierFactory(), title="甲的茶杯 TEACUP A")
    listing_b = shippable_listing(store_b, SupplierFactory(), title="乙的花瓶 VASE B")
    client.force_login(operator())
    assert client.get("/supplier/").status_code == 200
    assert client.get("/merchant/").status_code == 200
    products = client.get(reverse("supplier_console:supply_product_changelist")).content.decode()
    assert "TEACUP A" in products and "VASE B" in products
    listings = client.get(reverse("merchant_console:mall_listing_changelist")).content.decode()
    assert listing_a.sku.code in listings and listing_b.sku.code in listings


# --- the supplier console ------------------------------------------------------------------------------------------
def test_a_supplier_sees_only_its_own_products_skus_stock_and_shipments(client):
    ours, member = supplier_with_member()
    theirs = SupplierFactory()
    store = StoreFactory()
    our_listing = shippable_listing(store, ours, title="我们的陶瓷杯 OUR MUG")
    their_listing = shippable_listing(store, theirs, title="别家的玻璃罐 THEIR JAR")
    our_order = paid_order(our_listing, "console-ours-0001")
    their_order = paid_order(their_listing, "console-theirs-01")
    client.force_login(member)

    products = client.get(reverse("supplier_console:supply_product_changelist")).content.decode()
    assert "OUR MUG" in products and "THEIR JAR" not in products
    skus = client.get(reverse("supplier_console:supply_sku_changelist")).content.decode()
    assert our_listing.sku.code in skus and their_listing.sku.code not in skus
    stock = client.get(reverse("supplier_console:supply_stock_changelist")).content.decode()
    assert our_listing.sku.code in stock and their_listing.sku.code not in stock
    shipments = client.get(reverse("supplier_console:mall_shipment_changelist")).content.decode()
    assert our_order.number in shipments and their_order.number not in shipments

    for url in (reverse("supplier_console:supply_product_change", args=[their_listing.sku.product_id]),
                reverse("supplier_console:supply_sku_change", args=[their_listing.sku_id]),
                reverse("supplier_console:mall_shipment_change", args=[their_order.shipments.get().pk])):
        assert client.get(url).status_code in (302, 404)
    assert client.get(reverse("supplier_console:supply_product_change",
                              args=[our_listing.sku.product_id])).status_code == 200


def test_a_product_saved_in_the_supplier_console_belongs_to_the_members_supplier(client):
    ours, member = supplier_with_member()
    theirs = SupplierFactory()
    category = ProductFactory(supplier=ours).category
    client.force_login(member)
    response = client.post(reverse("supplier_console:supply_product_add"), {
        "supplier": theirs.pk,  # not a field for a member of one supplier: ignored
        "title": "手工蜂蜜 HANDMADE HONEY", "category": category.pk, "status": Product.Status.ACTIVE,
        "shipping_template": "", "description": "", "attributes": "",
        "skus-TOTAL_FORMS": "1", "skus-INITIAL_FORMS": "0", "skus-MIN_NUM_FORMS": "0", "skus-MAX_NUM_FORMS": "1000",
        "skus-0-code": "HONEY-500G", "skus-0-spec_values": "规格: 500g", "skus-0-cost_price": "20.00",
        "skus-0-floor_price": "30.00", "skus-0-suggested_price": "45.00", "skus-0-weight_grams": "600",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(title="手工蜂蜜 HANDMADE HONEY")
    assert product.supplier == ours
    assert "honey" in product.search_document.lower()
    assert product.skus.get().code == "HONEY-500G"


def test_a_sku_floor_below_its_cost_is_a_form_error(client):
    ours, member = supplier_with_member()
    sku = SKUFactory(product=ProductFactory(supplier=ours))
    client.force_login(member)
    response = client.post(reverse("supplier_console:supply_sku_change", args=[sku.pk]), {
        "product": sku.product_id, "code": sku.code, "spec_values": "", "cost_price": "40.00",
        "floor_price": "30.00", "suggested_price": "50.00", "weight_grams": "500",
    })
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    sku.refresh_from_db()
    assert sku.cost_price == Decimal("20.00")


def test_stock_numbers_are_shown_but_not_editable_and_low_stock_can_be_filtered(client):
    ours, member = supplier_with_member()
    plenty = SKUFactory(product=ProductFactory(supplier=ours))
    scarce = SKUFactory(product=ProductFactory(supplier=ours))
    scarce.stock.available = 3
    scarce.stock.save()
    client.force_login(member)

    page = client.get(reverse("supplier_console:supply_sku_change", args=[plenty.pk])).content.decode()
    assert "可用 available" in page and 'name="stock_available"' not in page and 'name="available"' not in page
    response = client.post(reverse("supplier_console:supply_sku_change", args=[plenty.pk]), {
        "product": plenty.product_id, "code": plenty.code, "spec_values": "", "cost_price": "20.00",
        "floor_price": "30.00", "suggested_price": "50.00", "weight_grams": "500", "stock_available": "9999",
        "available": "9999",
    })
    assert response.status_code == 302
    plenty.stock.refresh_from_db()
    assert plenty.stock.available == 100

    low = client.get(reverse("supplier_console:supply_stock_changelist") + "?level=low")
    assert [stock.sku for stock in low.context["cl"].result_list] == [scarce]
    assert client.get(reverse("supplier_console:supply_stock_change", args=[plenty.pk])).status_code == 200
    assert client.post(reverse("supplier_console:supply_stock_change", args=[plenty.pk]),
                       {"available": "1"}).status_code == 403


def test_a_supplier_ships_a_paid_order_through_the_console(client):
    supplier, member = supplier_with_member()
    listing = shippable_listing(StoreFactory(), supplier)
    order = paid_order(listing, "console-ship-0001")
    shipment = order.shipments.get()
    url = reverse("supplier_console:mall_shipment_change", args=[shipment.pk])
    client.force_login(member)

    page = client.get(url).content.decode()
    assert order.address["recipient"] in page and order.address["detail"] in page and listing.sku.code in page

    response = client.post(url, {"carrier": "顺丰 SF", "tracking_number": ""})
    assert response.status_code == 200 and "tracking_number" in response.context["adminform"].form.errors
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.PENDING

    response = client.post(url, {"carrier": "顺丰 SF", "tracking_number": "SF1234567890"})
    assert response.status_code == 302
    order.refresh_from_db()
    shipment.refresh_from_db()
    assert order.shipping_status == Order.ShippingStatus.SHIPPED and order.status == Order.Status.SHIPPED
    assert (shipment.status, shipment.carrier, shipment.tracking_number) == ("shipped", "顺丰 SF", "SF1234567890")
    assert order.events.filter(axis="shipping_status", to_state="shipped", actor=member).exists()

    # Shipped: the page is read-only now, and posting again (a form left open) is refused with a message,
    # without touching anything.
    assert client.get(url).status_code == 200
    response = client.post(url, {"carrier": "中通 ZTO", "tracking_number": "ZT1"})
    assert response.status_code == 302 and any("已发货" in text for text in messages_of(response))
    shipment.refresh_from_db()
    assert (shipment.carrier, shipment.tracking_number) == ("顺丰 SF", "SF1234567890")


def test_an_unpaid_orders_shipment_is_not_on_the_shipping_page(client):
    supplier, member = supplier_with_member()
    order = submitted_order(shippable_listing(StoreFactory(), supplier), "console-unpaid-01")
    client.force_login(member)
    shipments = client.get(reverse("supplier_console:mall_shipment_changelist")).content.decode()
    assert order.number not in shipments
    url = reverse("supplier_console:mall_shipment_change", args=[order.shipments.get().pk])
    assert client.post(url, {"carrier": "SF", "tracking_number": "1"}).status_code in (302, 404)
    order.refresh_from_db()
    assert order.shipping_status == Order.ShippingStatus.NOT_SHIPPED


def refund_only(order, line, quantity):
    after_sale = after_sales.after_sale_request(buyer=order.buyer, order_id=order.pk, line_id=line.pk,
                                                kind=AfterSale.Kind.REFUND_ONLY, quantity=quantity, reason="不想要了")
    after_sales.after_sale_approve(after_sale_id=after_sale.pk, store=order.store, actor=order.store.owner)


def test_units_refunded_before_shipping_leave_the_shipment_and_a_shipment_left_empty_cannot_ship(client):
    supplier, member = supplier_with_member()
    listing = shippable_listing(StoreFactory(), supplier)
    buyer = UserFactory()
    order, _created = orders.order_submit(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": 3}],
                                          address_id=AddressFactory(user=buyer).pk,
                                          idempotency_key="console-partial-1")
    payments.simulated_gateway_pay(order=order)
    line = order.lines.get()
    shipment = order.shipments.get()
    list_url = reverse("supplier_console:mall_shipment_changelist")
    change_url = reverse("supplier_console:mall_shipment_change", args=[shipment.pk])
    client.force_login(member)

    refund_only(order, line, 1)
    listed = client.get(list_url)
    assert listed.context["cl"].result_list[0].pk == shipment.pk
    assert f"{listing.sku.code} ×2" in listed.content.decode()
    page = client.get(change_url).content.decode()
    assert "<td>2（共 3，已退款 1" in page

    refund_only(order, line, 2)
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED and order.status == Order.Status.CLOSED
    assert order.number not in client.get(list_url).content.decode()  # nothing to ship: off the shipping page
    client.post(change_url, {"carrier": "顺丰 SF", "tracking_number": "SF1"})
    with pytest.raises(orders.IllegalTransition):
        orders.shipment_ship(shipment_id=shipment.pk, supplier=supplier, carrier="顺丰 SF", tracking_number="SF1")
    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_number) == (Shipment.Status.CANCELLED, "")


def test_a_suppliers_part_refunded_in_full_shows_as_nothing_to_ship_and_is_refused(client):
    supplier, member = supplier_with_member()
    store = StoreFactory()
    ours, theirs = shippable_listing(store, supplier), shippable_listing(store, SupplierFactory())
    buyer = UserFactory()
    order, _created = orders.order_submit(buyer=buyer, address_id=AddressFactory(user=buyer).pk,
                                          idempotency_key="console-partial-2",
                                          lines=[{"listing_id": ours.pk, "quantity": 2},
                                                 {"listing_id": theirs.pk, "quantity": 1}])
    payments.simulated_gateway_pay(order=order)
    refund_only(order, order.lines.get(listing=ours), 2)
    shipment = order.shipments.get(supplier=supplier)
    order.refresh_from_db()
    assert shipment.status == Shipment.Status.CANCELLED and order.status == Order.Status.PAID
    client.force_login(member)

    listed = client.get(reverse("supplier_console:mall_shipment_changelist")).content.decode()
    assert order.number in listed and "无需发货" in listed
    url = reverse("supplier_console:mall_shipment_change", args=[shipment.pk])
    assert "无需发货：已全部退款" in client.get(url).content.decode()
    response = client.post(url, {"carrier": "顺丰 SF", "tracking_number": "SF2"})
    assert response.status_code == 302 and any("无需发货" in text for text in messages_of(response))
    shipment.refresh_from_db()
    assert (shipment.status, shipment.tracking_number) == (Shipment.Status.CANCELLED, "")


# --- the merchant console ------------------------------------------------------------------------------------------
def test_a_merchant_sees_only_its_own_stores_orders_and_listings(client):
    supplier = SupplierFactory()
    ours, theirs = StoreFactory(), StoreFactory()
    our_listing = shippable_listing(ours, supplier, title="我们的围巾 OUR SCARF")
    their_listing = shippable_listing(theirs, supplier, title="别家的手套 THEIR GLOVES")
    our_order = paid_order(our_listing, "console-ours-0002")
    their_order = paid_order(their_listing, "console-theirs-02")
    client.force_login(ours.owner)

    listings = client.get(reverse("merchant_console:mall_listing_changelist")).content.decode()
    assert "OUR SCARF" in listings and "THEIR GLOVES" not in listings
    order_list = client.get(reverse("merchant_console:mall_order_changelist")).content.decode()
    assert our_order.number in order_list and their_order.number not in order_list
    searched = client.get(reverse("merchant_console:mall_order_changelist") + f"?q={their_order.number}")
    assert searched.context["cl"].result_count == 0
    assert client.get(reverse("merchant_console:mall_order_change", args=[their_order.pk])).status_code in (302, 404)
    assert client.get(reverse("merchant_console:mall_listing_change",
                              args=[their_listing.pk])).status_code in (302, 404)
    detail = client.get(reverse("merchant_console:mall_order_change", args=[our_order.pk])).content.decode()
    assert our_listing.sku.code in detail  # the lines inline


def test_a_merchant_cannot_list_a_sku_below_its_floor(client):
    store = StoreFactory()
    sku = SKUFactory()  # floor 30.00
    url = reverse("merchant_console:mall_listing_add")
    client.force_login(store.owner)

    response = client.post(url, {"sku": sku.pk, "price": "29.99"})
    assert response.status_code == 200
    assert "price" in response.context["adminform"].form.errors
    assert "最低售价" in response.content.decode()
    assert not Listing.objects.exists()

    response = client.post(url, {"sku": sku.pk, "price": "39.90"})
    assert response.status_code == 302
    listing = Listing.objects.get()
    assert (listing.store, listing.sku, listing.price) == (store, sku, Decimal("39.90"))

    response = client.post(url, {"sku": sku.pk, "price": "45.00"})  # listed already
    assert response.status_code == 200 and "sku" in response.context["adminform"].form.errors
    assert Listing.objects.count() == 1


def test_a_merchant_reprices_a_listing_but_never_below_the_floor(client):
    listing = ListingFactory()  # 50.00, floor 30.00
    url = reverse("merchant_console:mall_listing_change", args=[listing.pk])
    client.force_login(listing.store.owner)

    response = client.post(url, {"price": "10.00", "status": Listing.Status.INACTIVE})
    assert response.status_code == 200 and "price" in response.context["adminform"].form.errors
    listing.refresh_from_db()
    assert (listing.price, listing.status) == (Decimal("50.00"), Listing.Status.ACTIVE)

    response = client.post(url, {"price": "45.00", "status": Listing.Status.INACTIVE})
    assert response.status_code == 302
    listing.refresh_from_db()
    assert (listing.price, listing.status) == (Decimal("45.00"), Listing.Status.INACTIVE)


def test_a_merchant_picks_skus_from_the_catalogue_of_active_suppliers_only(client):
    store = StoreFactory()
    on_sale = SKUFactory()
    withdrawn = SKUFactory(product=ProductFactory(status=Product.Status.INACTIVE))
    client.force_login(store.owner)
    catalogue = client.get(reverse("merchant_console:supply_sku_changelist")).content.decode()
    assert on_sale.code in catalogue and withdrawn.code not in catalogue

    response = client.post(reverse("merchant_console:mall_listing_add"), {"sku": withdrawn.pk, "price": "50.00"})
    assert response.status_code == 200 and "sku" in response.context["adminform"].form.errors

    response = client.post(reverse("merchant_console:supply_sku_changelist"), {
        "action": "list_at_suggested_price", "_selected_action": [on_sale.pk], "index": "0"})
    assert response.status_code == 302
    listing = Listing.objects.get()
    assert (listing.store, listing.sku, listing.price) == (store, on_sale, on_sale.suggested_price)
    assert not SKU.objects.get(pk=withdrawn.pk).listings.exists()


def test_a_coupon_template_is_forced_into_the_merchants_store(client):
    ours, theirs = StoreFactory(), StoreFactory()
    now = timezone.localtime()
    client.force_login(ours.owner)
    response = client.post(reverse("merchant_console:mall_coupontemplate_add"), {
        "store": theirs.pk, "name": "满100减15", "kind": CouponTemplate.Kind.THRESHOLD, "amount_off": "15.00",
        "threshold": "100.00", "scope": CouponTemplate.Scope.ALL, "per_user_limit": "1", "total_quantity": "200",
        "validity": CouponTemplate.Validity.FIXED,
        "valid_from_0": now.strftime("%Y-%m-%d"), "valid_from_1": "00:00:00",
        "valid_to_0": (now + timedelta(days=7)).strftime("%Y-%m-%d"), "valid_to_1": "23:59:59",
        "is_active": "on",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CouponTemplate.objects.get().store == ours


def test_a_merchant_decides_after_sales_with_admin_actions(client):
    listing = shippable_listing(StoreFactory(), SupplierFactory())
    order = paid_order(listing, "console-refund-01")
    after_sale = after_sales.after_sale_request(buyer=order.buyer, order_id=order.pk, line_id=order.lines.get().pk,
                                                kind=AfterSale.Kind.REFUND_ONLY, quantity=1, reason="不想要了")
    url = reverse("merchant_console:mall_aftersale_changelist")
    client.force_login(listing.store.owner)
    assert order.number in client.get(url).content.decode()

    response = client.post(url, {"action": "refuse", "_selected_action": [after_sale.pk], "index": "0", "note": ""})
    assert response.status_code == 302 and any("拒绝理由" in text for text in messages_of(response))
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REQUESTED

    response = client.post(url, {"action": "approve", "_selected_action": [after_sale.pk], "index": "0"})
    assert response.status_code == 302
    after_sale.refresh_from_db()
    order.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REFUNDED
    assert order.after_sale_status == Order.AfterSaleStatus.REFUNDED

    # Approving again: the service refuses, the console says so, nothing changes and nothing breaks.
    response = client.post(url, {"action": "approve", "_selected_action": [after_sale.pk], "index": "0"})
    assert response.status_code == 302 and messages_of(response)
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REFUNDED


def test_a_merchant_cannot_act_on_another_stores_after_sale(client):
    listing = shippable_listing(StoreFactory(), SupplierFactory())
    order = paid_order(listing, "console-refund-02")
    after_sale = after_sales.after_sale_request(buyer=order.buyer, order_id=order.pk, line_id=order.lines.get().pk,
                                                kind=AfterSale.Kind.REFUND_ONLY, quantity=1, reason="不想要了")
    client.force_login(StoreFactory().owner)
    client.post(reverse("merchant_console:mall_aftersale_changelist"),
                {"action": "approve", "_selected_action": [after_sale.pk], "index": "0"})
    after_sale.refresh_from_db()
    assert after_sale.status == AfterSale.Status.REQUESTED


def test_a_bargain_campaign_is_created_through_the_service(client):
    listing = ListingFactory()  # 50.00, SKU floor 30.00
    other_listing = ListingFactory()
    now = timezone.localtime()
    url = reverse("merchant_console:mall_bargaincampaign_add")
    form = {"listing": listing.pk, "helpers_needed": "5", "window_hours": "24",
            "starts_at_0": now.strftime("%Y-%m-%d"), "starts_at_1": "00:00:00",
            "ends_at_0": (now + timedelta(days=3)).strftime("%Y-%m-%d"), "ends_at_1": "00:00:00",
            "min_cut_ratio": "0.200", "max_cut_ratio": "1.800"}
    client.force_login(listing.store.owner)

    response = client.post(url, {**form, "floor_price": "25.00"})  # below the supplier's floor
    assert response.status_code == 200 and "floor_price" in response.context["adminform"].form.errors
    response = client.post(url, {**form, "listing": other_listing.pk, "floor_price": "35.00"})  # not our listing
    assert response.status_code == 200 and "listing" in response.context["adminform"].form.errors
    assert not BargainCampaign.objects.exists()

    response = client.post(url, {**form, "floor_price": "35.00"})
    assert response.status_code == 302
    campaign = BargainCampaign.objects.get()
    assert (campaign.listing, campaign.floor_price, campaign.helpers_needed) == (listing, Decimal("35.00"), 5)


def test_a_merchant_reads_an_orders_money_in_yuan(client):
    store = StoreFactory()
    order = paid_order(shippable_listing(store, SupplierFactory()), key="yuan-1")
    client.force_login(store.owner)
    page = client.get(reverse("merchant_console:mall_order_change", args=[order.pk])).content.decode()
    assert f"¥{order.total:,.2f}" in page  # the order's total and its line's paid amount
    listing_page = client.get(reverse("merchant_console:mall_listing_changelist")).content.decode()
    assert "¥50.00" in listing_page
