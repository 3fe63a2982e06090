"""The badge row of "my orders" (GET /api/v1/orders/counts): how many of the shopper's own orders wait at each
step, compared with a count over the rows."""
import pytest
from rest_framework.test import APIClient

from mall.models import AfterSale, Order
from tests.factories import AddressFactory, UserFactory
from tests.mall.conftest import pay, place
from tests.mall.test_after_sales import deliver, request, ship

pytestmark = pytest.mark.django_db


def _by_hand(buyer) -> dict[str, int]:
    mine = list(Order.objects.filter(buyer=buyer))
    open_orders = set(AfterSale.objects.filter(order__buyer=buyer, status__in=AfterSale.OPEN_STATUSES)
                      .values_list("order_id", flat=True))
    return {"pending_payment": sum(order.status == "pending_payment" for order in mine),
            "grouping": sum(order.status == "grouping" for order in mine),
            "to_ship": sum(order.status == "paid" for order in mine),
            "to_receive": sum(order.status in ("shipped", "delivered") for order in mine),
            "after_sale": len(open_orders)}


def test_the_badge_counts_are_the_shoppers_own_orders_at_each_step(buyer, address, listing):
    place(buyer, address, listing, key="unpaid-1")
    place(buyer, address, listing, key="unpaid-2")
    pay(place(buyer, address, listing, key="paid-1"))
    ship(pay(place(buyer, address, listing, key="shipped-1")))
    delivered = pay(place(buyer, address, listing, key="delivered-1"))
    deliver(delivered)
    request(delivered, delivered.lines.get())
    stranger = UserFactory()
    pay(place(stranger, AddressFactory(user=stranger), listing, key="theirs-1"))

    client = APIClient()
    client.force_authenticate(buyer)
    response = client.get("/api/v1/orders/counts")
    assert response.status_code == 200
    assert response.json() == _by_hand(buyer) == {"pending_payment": 2, "grouping": 0, "to_ship": 1,
                                                  "to_receive": 2, "after_sale": 1}


def test_the_badge_counts_need_a_login(db):
    response = APIClient().get("/api/v1/orders/counts")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
