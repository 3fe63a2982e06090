"""Error messages come in the caller's language (Accept-Language through Django's translation machinery): Chinese
by default, English when asked; the code stays the same, and a message is one language, never two fused."""
import re

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from core.errors import DomainError
from mall.models import Order
from mall.services import orders, quotes

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def shopper_api(buyer):
    client = APIClient()
    client.force_authenticate(buyer)
    return client


def _submit(client, address, listing_id: int, **headers):
    return client.post("/api/v1/orders", {"lines": [{"listing_id": listing_id, "quantity": 1}],
                                          "address_id": address.pk, "idempotency_key": "language-1"},
                       format="json", **headers)


@pytest.mark.parametrize(("accept_language", "message"), [
    (None, "商品不存在"),
    ("zh-CN,zh;q=0.9", "商品不存在"),
    ("en-US,en;q=0.8", "no such listing"),
])
def test_a_refusal_reads_in_the_callers_language(shopper_api, address, accept_language, message):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}
    response = _submit(shopper_api, address, 999_999, **headers)
    assert response.status_code == 404
    assert response.json()["code"] == "listing_not_found"
    assert response.json()["message"] == message
    assert not Order.objects.exists()


def test_a_message_with_a_number_in_it_reads_in_both_languages(buyer, address, listing):
    def refusal(language: str) -> tuple[str, str]:
        with translation.override(language), pytest.raises(DomainError) as raised:
            orders.order_submit(buyer=buyer, lines=[{"listing_id": listing.pk, "quantity": quotes.MAX_QUANTITY + 1}],
                                address_id=address.pk, idempotency_key="language-2")
        with translation.override(language):
            return raised.value.code, str(raised.value.message)

    (chinese_code, chinese), (english_code, english) = refusal("zh-hans"), refusal("en")
    assert chinese_code == english_code == "invalid_quantity"
    assert chinese == f"数量须在 1 到 {quotes.MAX_QUANTITY} 之间"
    assert english == f"quantity must be 1..{quotes.MAX_QUANTITY}"
    assert not Order.objects.exists()
