"""Console saves that go through validating services: coupon templates and group-buy campaigns (merchant console),
SKUs with their stock row (supplier console). Over HTTP as the staff who use them, then each refusal code of the
services."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from core.errors import DomainError
from mall.models import CouponTemplate, GroupBuyCampaign, Listing
from mall.services import coupons, group_buys, quotes
from supply import services as supply_services
from supply.models import SKU, Product, Stock
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CouponTemplateFactory,
    GroupBuyCampaignFactory,
    ListingFactory,
    ProductFactory,
    SKUFactory,
    StoreFactory,
    SupplierFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
D = Decimal


def when(moment) -> dict:
    local = timezone.localtime(moment)
    return {"0": local.strftime("%Y-%m-%d"), "1": local.strftime("%H:%M:%S")}


def datetime_fields(**moments) -> dict:
    return {f"{name}_{part}": value for name, moment in moments.items() for part, value in when(moment).items()}


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


# --- group-buy campaigns over HTTP ------------------------------------------------------------------------------
def group_buy_form(listing, **fields) -> dict:
    now = timezone.now()
    return {"listing": listing.pk, "team_price": "35.00", "team_size": "3", "window_hours": "24",
            "per_user_limit": "1", "is_active": "on",
            **datetime_fields(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3)), **fields}


def test_a_team_price_below_the_floor_is_refused_on_the_form_and_a_valid_one_saves(client):
    listing = ListingFactory()  # 50.00, SKU floor 30.00
    url = reverse("merchant_console:mall_groupbuycampaign_add")
    client.force_login(listing.store.owner)

    response = client.post(url, group_buy_form(listing, team_price="29.99"))
    assert response.status_code == 200 and "team_price" in form_errors(response)
    assert "拼团价不能低于供应商最低售价 30.00" in response.content.decode()
    response = client.post(url, group_buy_form(listing, team_size="1"))  # the service speaks, not the constraint
    assert response.status_code == 200 and "成团人数须在 2 到 50 之间" in str(form_errors(response)["team_size"])
    response = client.post(url, group_buy_form(listing, team_price="50.00"))
    assert response.status_code == 200 and "拼团价须低于售价" in str(form_errors(response)["team_price"])
    assert not GroupBuyCampaign.objects.exists()

    response = client.post(url, group_buy_form(listing, team_price="30.00"))
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = GroupBuyCampaign.objects.get()
    assert (campaign.listing, campaign.team_price, campaign.team_size) == (listing, D("30.00"), 3)


def test_editing_a_campaign_goes_through_the_service_and_switching_it_off_always_works(client):
    campaign = GroupBuyCampaignFactory()  # 35.00 on a 50.00 listing, floor 30.00
    url = reverse("merchant_console:mall_groupbuycampaign_change", args=[campaign.pk])
    client.force_login(campaign.listing.store.owner)
    form = group_buy_form(campaign.listing)
    form.pop("listing")

    response = client.post(url, {**form, "team_price": "20.00"})
    assert response.status_code == 200 and "team_price" in form_errors(response)
    campaign.refresh_from_db()
    assert campaign.team_price == D("35.00")

    SKU.objects.filter(pk=campaign.listing.sku_id).update(floor_price=D("40.00"))  # the supplier raised its floor
    response = client.post(url, {**form})
    assert response.status_code == 200 and "team_price" in form_errors(response)
    off = {name: value for name, value in form.items() if name != "is_active"}
    response = client.post(url, off)
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.is_active is False and campaign.team_price == D("35.00")


def test_a_merchant_cannot_set_up_a_group_buy_on_another_stores_listing(client):
    ours, theirs = ListingFactory(), ListingFactory()
    client.force_login(ours.store.owner)
    response = client.post(reverse("merchant_console:mall_groupbuycampaign_add"), group_buy_form(theirs))
    assert response.status_code == 200 and "listing" in form_errors(response)
    assert not GroupBuyCampaign.objects.exists()


# --- coupon templates over HTTP ---------------------------------------------------------------------------------
def coupon_form(**fields) -> dict:
    now = timezone.now()
    return {"name": "满100减15", "kind": CouponTemplate.Kind.THRESHOLD, "amount_off": "15.00", "threshold": "100.00",
            "percent_off": "", "max_discount": "", "scope": CouponTemplate.Scope.ALL, "per_user_limit": "1",
            "total_quantity": "200", "validity": CouponTemplate.Validity.FIXED, "valid_days": "", "is_active": "on",
            **datetime_fields(valid_from=now - timedelta(hours=1), valid_to=now + timedelta(days=7)), **fields}


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"threshold": "10.00"}, "threshold", "满减券的使用门槛不能低于减免金额"),
    ({"kind": CouponTemplate.Kind.PERCENTAGE, "amount_off": "", "percent_off": "0"}, "percent_off",
     "折扣百分比须在 1 到 99 之间"),
    ({"kind": CouponTemplate.Kind.PERCENTAGE, "percent_off": "20"}, "amount_off", "折扣券请填写折扣百分比"),
    ({"amount_off": "0.00"}, "amount_off", "减免金额须大于 0"),
    ({"kind": CouponTemplate.Kind.NO_THRESHOLD}, "threshold", "无门槛券的使用门槛须为 0"),
    ({"scope": CouponTemplate.Scope.CATEGORY}, "categories", "请选择适用类目"),
    ({"validity": CouponTemplate.Validity.RELATIVE, "valid_days": "0", "valid_from_0": "", "valid_from_1": "",
      "valid_to_0": "", "valid_to_1": ""}, "valid_days", "领取后有效天数至少为 1"),
    ({"per_user_limit": "0"}, "per_user_limit", "每人限领至少 1 张"),
])
def test_a_coupon_that_makes_no_sense_is_refused_with_its_message_and_nothing_saved(client, fields, field, message):
    store = StoreFactory()
    client.force_login(store.owner)
    response = client.post(reverse("merchant_console:mall_coupontemplate_add"), coupon_form(**fields))
    assert response.status_code == 200
    assert message in str(form_errors(response)[field])
    assert message in response.content.decode()
    assert not CouponTemplate.objects.exists()


def test_a_sensible_coupon_saves_with_its_scope(client):
    store = StoreFactory()
    listing = ListingFactory(store=store)
    client.force_login(store.owner)
    response = client.post(reverse("merchant_console:mall_coupontemplate_add"), coupon_form(
        name="指定商品 8 折", kind=CouponTemplate.Kind.PERCENTAGE, amount_off="", percent_off="20",
        max_discount="30.00", threshold="0", scope=CouponTemplate.Scope.LISTINGS, listings=[listing.pk]))
    assert response.status_code == 302, response.content.decode()[:2000]
    template = CouponTemplate.objects.get()
    assert (template.store, template.kind, template.percent_off, template.max_discount) == (
        store, CouponTemplate.Kind.PERCENTAGE, 20, D("30.00"))
    assert list(template.listings.all()) == [listing]


def test_a_coupons_total_cannot_drop_below_what_was_claimed_and_claims_are_not_written_back(client):
    template = CouponTemplateFactory(total_quantity=10)
    for _ in range(3):
        coupons.coupon_claim(user=UserFactory(), template_id=template.pk)
    url = reverse("merchant_console:mall_coupontemplate_change", args=[template.pk])
    client.force_login(template.store.owner)
    form = coupon_form(name=template.name, amount_off="20.00", total_quantity="2", **datetime_fields(
        valid_from=template.valid_from, valid_to=template.valid_to))

    response = client.post(url, form)
    assert response.status_code == 200 and "已领取的 3 张" in str(form_errors(response)["total_quantity"])
    template.refresh_from_db()
    assert template.total_quantity == 10

    coupons.coupon_claim(user=UserFactory(), template_id=template.pk)  # while the merchant's form is open
    response = client.post(url, {**form, "total_quantity": "50", "name": "满100减20 加量"})
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.name, template.total_quantity, template.claimed_count) == ("满100减20 加量", 50, 4)


# --- SKUs with their stock row over HTTP ------------------------------------------------------------------------
def supplier_with_member():
    supplier = SupplierFactory()
    member = UserFactory(role=Role.SUPPLIER_STAFF)
    supplier.staff.add(member)
    return supplier, member


def sku_inline(prefix: str = "skus", initial: int = 0, **rows) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(initial + len(rows)), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for index, (code, floor) in enumerate(rows.items(), start=initial):
        data.update({f"{prefix}-{index}-code": code, f"{prefix}-{index}-spec_values": "规格: 500g",
                     f"{prefix}-{index}-cost_price": "20.00", f"{prefix}-{index}-floor_price": floor,
                     f"{prefix}-{index}-suggested_price": "45.00", f"{prefix}-{index}-weight_grams": "600"})
    return data


def test_a_sku_added_in_the_supplier_console_has_a_stock_row(client):
    supplier, member = supplier_with_member()
    product = ProductFactory(supplier=supplier)
    client.force_login(member)
    response = client.post(reverse("supplier_console:supply_sku_add"), {
        "product": product.pk, "code": "TEA-250G", "spec_values": "规格: 250g", "cost_price": "12.00",
        "floor_price": "18.00", "suggested_price": "29.00", "weight_grams": "300"})
    assert response.status_code == 302, response.content.decode()[:2000]
    sku = SKU.objects.get(code="TEA-250G")
    stock = Stock.objects.get(sku=sku)
    assert (sku.product, stock.available, stock.reserved, stock.sold) == (product, 0, 0, 0)


def test_skus_added_on_the_product_page_have_stock_rows_and_the_search_document_is_refreshed(client):
    _supplier, member = supplier_with_member()
    category = CategoryFactory(name="茶叶")
    client.force_login(member)
    product_fields = {"title": "安吉白茶 ANJI WHITE TEA", "category": category.pk, "status": Product.Status.ACTIVE,
                      "shipping_template": "", "description": "", "attributes": ""}
    response = client.post(reverse("supplier_console:supply_product_add"),
                           {**product_fields, **sku_inline(**{"TEA-A": "30.00"})})
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(title="安吉白茶 ANJI WHITE TEA")
    assert Stock.objects.get(sku__code="TEA-A").available == 0

    existing = product.skus.get()
    change = {**product_fields, "title": "安吉白茶 ANJI WHITE TEA 2026", **sku_inline(initial=1, **{"TEA-B": "31.00"}),
              **sku_inline(prefix="images"),  # the pictures inline of a saved product, left empty
              "skus-0-id": existing.pk, "skus-0-product": product.pk, "skus-0-code": "TEA-A",
              "skus-0-spec_values": "", "skus-0-cost_price": "20.00", "skus-0-floor_price": "30.00",
              "skus-0-suggested_price": "45.00", "skus-0-weight_grams": "600"}
    response = client.post(reverse("supplier_console:supply_product_change", args=[product.pk]), change)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert sorted(Stock.objects.filter(sku__product=product).values_list("sku__code", "available")) == [
        ("TEA-A", 0), ("TEA-B", 0)]
    product.refresh_from_db()
    assert "2026" in product.search_document


def test_a_sku_with_a_floor_below_its_cost_is_a_form_error_and_writes_no_sku_or_stock(client):
    supplier, member = supplier_with_member()
    product = ProductFactory(supplier=supplier)
    client.force_login(member)
    response = client.post(reverse("supplier_console:supply_sku_add"), {
        "product": product.pk, "code": "TEA-BAD", "spec_values": "", "cost_price": "20.00",
        "floor_price": "10.00", "suggested_price": "29.00", "weight_grams": "300"})
    assert response.status_code == 200 and form_errors(response)
    assert not SKU.objects.filter(code="TEA-BAD").exists() and not Stock.objects.filter(sku__code="TEA-BAD").exists()


# --- the services: each refusal ---------------------------------------------------------------------------------
def refused(call) -> str:
    with pytest.raises(DomainError) as error:
        call()
    return error.value.code


def coupon_values(store, **overrides) -> dict:
    now = timezone.now()
    return {"store": store, "name": "满100减20", "kind": CouponTemplate.Kind.THRESHOLD, "amount_off": D("20.00"),
            "threshold": D("100.00"), "total_quantity": 100, "valid_from": now - timedelta(hours=1),
            "valid_to": now + timedelta(days=7), **overrides}


PERCENTAGE = {"kind": CouponTemplate.Kind.PERCENTAGE, "amount_off": None, "threshold": D("0")}
RELATIVE = {"validity": CouponTemplate.Validity.RELATIVE, "valid_from": None, "valid_to": None}
NOW = timezone.now  # evaluated in each case, not at import


@pytest.mark.parametrize(("overrides", "code"), [
    (lambda store: {"name": "  "}, "coupon_name_required"),
    (lambda store: {"kind": "buy_one_get_one"}, "coupon_kind_invalid"),
    (lambda store: {"amount_off": None}, "coupon_amount_off_invalid"),
    (lambda store: {"amount_off": D("0.00")}, "coupon_amount_off_invalid"),
    (lambda store: {"amount_off": D("1.005")}, "coupon_amount_invalid"),
    (lambda store: {"amount_off": 20.0}, "coupon_amount_invalid"),
    (lambda store: {"threshold": D("-1.00")}, "coupon_threshold_invalid"),
    (lambda store: {"threshold": D("19.99")}, "coupon_threshold_below_amount"),
    (lambda store: {"kind": CouponTemplate.Kind.NO_THRESHOLD}, "coupon_threshold_not_allowed"),
    (lambda store: {"percent_off": 10}, "coupon_kind_value_mismatch"),
    (lambda store: {"max_discount": D("5.00")}, "coupon_kind_value_mismatch"),
    (lambda store: {**PERCENTAGE, "amount_off": D("5.00"), "percent_off": 10}, "coupon_kind_value_mismatch"),
    (lambda store: {**PERCENTAGE, "percent_off": 0}, "coupon_percent_off_invalid"),
    (lambda store: {**PERCENTAGE, "percent_off": 100}, "coupon_percent_off_invalid"),
    (lambda store: {**PERCENTAGE}, "coupon_percent_off_invalid"),
    (lambda store: {**PERCENTAGE, "percent_off": 10, "max_discount": D("0.00")}, "coupon_cap_invalid"),
    (lambda store: {"validity": "forever"}, "coupon_validity_invalid"),
    (lambda store: {"valid_to": NOW() - timedelta(days=2)}, "coupon_window_invalid"),
    (lambda store: {"valid_from": None}, "coupon_window_invalid"),
    (lambda store: {"valid_from": NOW() - timedelta(days=9), "valid_to": NOW() - timedelta(days=1)},
     "coupon_window_ended"),
    (lambda store: {"valid_days": 3}, "coupon_validity_mismatch"),
    (lambda store: {**RELATIVE, "valid_days": 0}, "coupon_valid_days_invalid"),
    (lambda store: {**RELATIVE, "valid_days": None}, "coupon_valid_days_invalid"),
    (lambda store: {**RELATIVE, "valid_from": NOW(), "valid_days": 3}, "coupon_validity_mismatch"),
    (lambda store: {"scope": "everything"}, "coupon_scope_invalid"),
    (lambda store: {"scope": CouponTemplate.Scope.CATEGORY}, "coupon_scope_empty"),
    (lambda store: {"scope": CouponTemplate.Scope.LISTINGS}, "coupon_scope_empty"),
    (lambda store: {"listings": [ListingFactory(store=store)]}, "coupon_scope_mismatch"),
    (lambda store: {"scope": CouponTemplate.Scope.LISTINGS, "categories": [CategoryFactory()],
                    "listings": [ListingFactory(store=store)]}, "coupon_scope_mismatch"),
    (lambda store: {"scope": CouponTemplate.Scope.LISTINGS, "listings": [ListingFactory()]},
     "coupon_listing_not_in_store"),
    (lambda store: {"per_user_limit": 0}, "coupon_per_user_limit_invalid"),
    (lambda store: {"total_quantity": 0}, "coupon_total_invalid"),
])
def test_coupon_template_create_refuses_each_mistake_with_its_code(overrides, code):
    store = StoreFactory()
    assert refused(lambda: coupons.coupon_template_create(**coupon_values(store, **overrides(store)))) == code
    assert not CouponTemplate.objects.exists()


def test_coupon_template_create_takes_each_kind_of_sensible_coupon():
    store = StoreFactory()
    category = CategoryFactory()
    own = ListingFactory(store=store)
    made = [
        coupons.coupon_template_create(**coupon_values(store)),
        coupons.coupon_template_create(**coupon_values(store, **PERCENTAGE, percent_off=15, max_discount=D("30"),
                                                       scope=CouponTemplate.Scope.CATEGORY, categories=[category])),
        coupons.coupon_template_create(**coupon_values(store, kind=CouponTemplate.Kind.NO_THRESHOLD,
                                                       threshold=D("0"), **RELATIVE, valid_days=7,
                                                       scope=CouponTemplate.Scope.LISTINGS, listings=[own])),
    ]
    assert [template.kind for template in made] == ["threshold", "percentage", "no_threshold"]
    assert list(made[1].categories.all()) == [category] and list(made[2].listings.all()) == [own]


def test_coupon_template_update_refuses_a_total_below_the_claims_and_an_unknown_template():
    template = CouponTemplateFactory(total_quantity=5)
    coupons.coupon_claim(user=UserFactory(), template_id=template.pk)
    coupons.coupon_claim(user=UserFactory(), template_id=template.pk)
    values = coupon_values(template.store, valid_from=template.valid_from, valid_to=template.valid_to)
    values.pop("store")
    assert refused(lambda: coupons.coupon_template_update(template_id=template.pk, **{
        **values, "total_quantity": 1})) == "coupon_total_below_claimed"
    assert refused(lambda: coupons.coupon_template_update(template_id=template.pk, store=StoreFactory(),
                                                          **values)) == "coupon_not_found"
    assert refused(lambda: coupons.coupon_template_update(template_id=template.pk, **{
        **values, "threshold": D("5.00")})) == "coupon_threshold_below_amount"
    template.refresh_from_db()
    assert (template.total_quantity, template.threshold, template.claimed_count) == (5, D("100.00"), 2)
    updated = coupons.coupon_template_update(template_id=template.pk, **{**values, "total_quantity": 2})
    assert (updated.total_quantity, updated.claimed_count) == (2, 2)


def group_buy_values(listing, **overrides) -> dict:
    now = timezone.now()
    return {"store": listing.store, "listing": listing, "team_price": D("35.00"), "team_size": 3,
            "starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(days=3), **overrides}


@pytest.mark.parametrize(("overrides", "code"), [
    (lambda listing: {"team_price": D("29.99")}, "group_buy_price_below_floor"),
    (lambda listing: {"team_price": D("50.00")}, "group_buy_price_not_below_listing"),
    (lambda listing: {"team_price": D("0.00")}, "group_buy_price_invalid"),
    (lambda listing: {"team_price": D("35.005")}, "group_buy_price_invalid"),
    (lambda listing: {"team_price": 35.0}, "group_buy_price_invalid"),
    (lambda listing: {"team_price": "35.00"}, "group_buy_price_invalid"),
    (lambda listing: {"team_size": 1}, "group_buy_team_size_invalid"),
    (lambda listing: {"team_size": 51}, "group_buy_team_size_invalid"),
    (lambda listing: {"window_hours": 0}, "group_buy_window_invalid"),
    (lambda listing: {"per_user_limit": 0}, "group_buy_per_user_limit_invalid"),
    (lambda listing: {"ends_at": NOW() - timedelta(hours=2)}, "group_buy_dates_invalid"),
    (lambda listing: {"ends_at": None}, "group_buy_dates_invalid"),
    (lambda listing: {"starts_at": NOW() - timedelta(days=3), "ends_at": NOW() - timedelta(days=1)},
     "group_buy_ended"),
    (lambda listing: {"store": StoreFactory()}, "group_buy_listing_not_in_store"),
])
def test_group_buy_campaign_create_refuses_each_mistake_with_its_code(overrides, code):
    listing = ListingFactory()  # 50.00, SKU floor 30.00
    assert refused(lambda: group_buys.group_buy_campaign_create(**group_buy_values(listing,
                                                                                   **overrides(listing)))) == code
    assert not GroupBuyCampaign.objects.exists()


def test_a_group_buy_needs_a_listing_on_sale():
    listing = ListingFactory(status=Listing.Status.INACTIVE)
    assert refused(lambda: group_buys.group_buy_campaign_create(**group_buy_values(listing))) == (
        "group_buy_listing_inactive")


def test_group_buy_campaign_update_checks_a_campaign_that_stays_on_but_lets_one_be_switched_off():
    campaign = GroupBuyCampaignFactory()
    values = {name: getattr(campaign, name) for name in ("team_price", "team_size", "window_hours",
                                                         "per_user_limit", "starts_at", "ends_at")}
    assert refused(lambda: group_buys.group_buy_campaign_update(campaign_id=campaign.pk, is_active=True, **{
        **values, "team_price": D("25.00")})) == "group_buy_price_below_floor"
    assert refused(lambda: group_buys.group_buy_campaign_update(campaign_id=campaign.pk, is_active=True,
                                                                store=StoreFactory(), **values)) == (
        "group_buy_not_found")
    SKU.objects.filter(pk=campaign.listing.sku_id).update(floor_price=D("40.00"))
    assert refused(lambda: group_buys.group_buy_campaign_update(campaign_id=campaign.pk, is_active=True,
                                                                **values)) == "group_buy_price_below_floor"
    assert refused(lambda: group_buys.group_buy_campaign_update(campaign_id=campaign.pk, is_active=False, **{
        **values, "team_size": 1})) == "group_buy_team_size_invalid"
    off = group_buys.group_buy_campaign_update(campaign_id=campaign.pk, is_active=False, **values)
    assert off.is_active is False and off.team_price == D("35.00")


def test_checkout_refuses_a_campaign_price_below_the_floor_rather_than_clamping_it():
    campaign = GroupBuyCampaignFactory()  # 35.00, floor 30.00
    buyer = UserFactory()
    address = AddressFactory(user=buyer)
    lines = [{"listing_id": campaign.listing_id, "quantity": 1}]
    quote = quotes.quote_build(buyer=buyer, lines=lines, address_id=address.pk,
                               unit_price_override={campaign.listing_id: campaign.team_price})
    assert quote.lines[0].unit_price == D("35.00")
    SKU.objects.filter(pk=campaign.listing.sku_id).update(floor_price=D("40.00"))
    assert refused(lambda: quotes.quote_build(buyer=buyer, lines=lines, address_id=address.pk, unit_price_override={
        campaign.listing_id: campaign.team_price})) == "campaign_price_below_floor"


@pytest.mark.parametrize(("overrides", "code"), [
    ({"code": " "}, "sku_code_required"),
    ({"floor_price": D("19.99")}, "sku_prices_invalid"),
    ({"suggested_price": D("29.99")}, "sku_prices_invalid"),
    ({"cost_price": D("-1")}, "sku_prices_invalid"),
    ({"cost_price": None}, "sku_prices_invalid"),
    ({"weight_grams": -1}, "sku_weight_invalid"),
    ({"code": "TAKEN-1"}, "sku_code_taken"),
])
def test_sku_create_refuses_each_mistake_with_its_code(overrides, code):
    product = ProductFactory()
    SKUFactory(code="TAKEN-1")
    values = {"product": product, "code": "NEW-1", "cost_price": D("20.00"), "floor_price": D("30.00"),
              "suggested_price": D("50.00"), **overrides}
    assert refused(lambda: supply_services.sku_create(**values)) == code
    assert not product.skus.exists()


def test_sku_create_writes_the_sku_and_its_stock_row_together():
    product = ProductFactory()
    sku = supply_services.sku_create(product=product, code=" NEW-2 ", cost_price=D("20"), floor_price=D("30"),
                                     suggested_price=D("50"), spec_values={"颜色": "白"}, weight_grams=250)
    assert (sku.code, sku.product, sku.weight_grams) == ("NEW-2", product, 250)
    assert (sku.stock.available, sku.stock.reserved, sku.stock.sold) == (0, 0, 0)


def test_product_attributes_are_edited_as_rows_not_json(client):
    _supplier, member = supplier_with_member()
    category = CategoryFactory(name="茶叶")
    client.force_login(member)
    fields = {"title": "龙井 LONGJING", "category": category.pk, "status": Product.Status.ACTIVE,
              "shipping_template": "", "description": "", "attributes": ["产地: 杭州", "净含量：250g"]}
    response = client.post(reverse("supplier_console:supply_product_add"), {**fields, **sku_inline()})
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(title="龙井 LONGJING")
    assert product.attributes == {"产地": "杭州", "净含量": "250g"}

    page = client.get(reverse("supplier_console:supply_product_change", args=[product.pk])).content.decode()
    assert 'value="产地: 杭州"' in page


@pytest.mark.parametrize(("field", "rows", "message"), [
    ("attributes", ["没有冒号"], "请写作 名称: 值"),
    ("attributes", ["产地: 杭州", "产地: 西湖"], "重复"),
])
def test_a_bad_attribute_row_is_a_form_error_and_saves_nothing(client, field, rows, message):
    _supplier, member = supplier_with_member()
    client.force_login(member)
    fields = {"title": "错误示例 BAD", "category": CategoryFactory().pk, "status": Product.Status.ACTIVE,
              "shipping_template": "", "description": "", field: rows}
    response = client.post(reverse("supplier_console:supply_product_add"), {**fields, **sku_inline()})
    assert response.status_code == 200
    assert message in " ".join(form_errors(response)[field])
    assert not Product.objects.filter(title="错误示例 BAD").exists()
