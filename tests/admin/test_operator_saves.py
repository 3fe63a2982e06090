"""Configuration rows an operator edits save through the same validating services as in the merchant console:
a mistake is a form error in the merchant's words and nothing is saved."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from mall.models import BargainCampaign, CouponTemplate, GroupBuyCampaign
from tests.factories import ListingFactory, StoreFactory
from tests.test_console_saves import coupon_form, datetime_fields, form_errors, group_buy_form

pytestmark = pytest.mark.django_db
D = Decimal


def test_a_listing_price_goes_through_the_service(operator_client):
    listing = ListingFactory()  # 50.00, SKU floor 30.00
    url = reverse("admin:mall_listing_change", args=[listing.pk])

    response = operator_client.post(url, {"price": "29.99", "status": "active"})
    assert response.status_code == 200 and "price" in form_errors(response)
    assert "售价不能低于供应商最低售价 30.00" in response.content.decode()
    listing.refresh_from_db()
    assert listing.price == D("50.00")

    assert operator_client.post(url, {"price": "45.00", "status": "inactive"}).status_code == 302
    listing.refresh_from_db()
    assert (listing.price, listing.status) == (D("45.00"), "inactive")


def test_a_coupon_template_for_a_store_goes_through_the_service(operator_client):
    store = StoreFactory()
    url = reverse("admin:mall_coupontemplate_add")

    response = operator_client.post(url, coupon_form(store=store.pk, threshold="10.00"))
    assert response.status_code == 200 and "满减券的使用门槛不能低于减免金额" in str(form_errors(response)["threshold"])
    assert not CouponTemplate.objects.exists()

    response = operator_client.post(url, coupon_form(store=store.pk))
    assert response.status_code == 302, response.content.decode()[:2000]
    template = CouponTemplate.objects.get()
    assert (template.store, template.amount_off, template.claimed_count) == (store, D("15.00"), 0)


def test_a_group_buy_below_the_floor_is_refused_and_a_valid_one_saves(operator_client):
    listing = ListingFactory()
    url = reverse("admin:mall_groupbuycampaign_add")

    response = operator_client.post(url, group_buy_form(listing, team_price="29.99"))
    assert response.status_code == 200 and "team_price" in form_errors(response)
    assert not GroupBuyCampaign.objects.exists()

    assert operator_client.post(url, group_buy_form(listing, team_price="30.00")).status_code == 302
    assert GroupBuyCampaign.objects.get().team_price == D("30.00")


def test_a_bargain_campaign_is_created_through_the_service(operator_client):
    listing = ListingFactory()
    now = timezone.now()
    form = {"listing": listing.pk, "floor_price": "29.00", "helpers_needed": "3", "window_hours": "24",
            "min_cut_ratio": "0.200", "max_cut_ratio": "1.800",
            **datetime_fields(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=2))}
    url = reverse("admin:mall_bargaincampaign_add")

    response = operator_client.post(url, form)
    assert response.status_code == 200 and "底价不能低于供应商最低售价" in str(form_errors(response)["floor_price"])
    assert not BargainCampaign.objects.exists()

    assert operator_client.post(url, {**form, "floor_price": "35.00"}).status_code == 302
    assert BargainCampaign.objects.get().floor_price == D("35.00")
