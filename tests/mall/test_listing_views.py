"""Listing views are behaviour events, for shoppers and for anonymous visitors (by device id)."""
import pytest
from rest_framework.test import APIClient

from core.models import BehaviourEvent, EventDelivery

pytestmark = pytest.mark.django_db


def views():
    return list(BehaviourEvent.objects.filter(kind="product_viewed").values_list("actor_id", "visitor_id",
                                                                                 "object_id", "payload"))


def test_an_anonymous_visitor_with_a_device_id_is_counted_and_nobody_else_twice(listing, buyer):
    anonymous = APIClient()
    assert anonymous.get(f"/api/v1/listings/{listing.pk}").status_code == 200
    assert anonymous.get(f"/api/v1/listings/{listing.pk}", HTTP_X_VISITOR_ID="bad id!").status_code == 200
    assert views() == []  # no device id, or not one: not counted
    assert anonymous.get(f"/api/v1/listings/{listing.pk}", HTTP_X_VISITOR_ID="device-7f3a9c21").status_code == 200
    shopper = APIClient()
    shopper.force_authenticate(buyer)
    shopper.get(f"/api/v1/listings/{listing.pk}", HTTP_X_VISITOR_ID="device-of-the-shopper")
    assert views() == [(None, "device-7f3a9c21", str(listing.pk), {"sku_id": listing.sku_id}),
                       (buyer.pk, "", str(listing.pk), {"sku_id": listing.sku_id})]
    assert not EventDelivery.objects.exists()  # high volume: read by batch consumers only, no task per view
