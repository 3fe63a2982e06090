from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from core.events import consumer_run, record_event
from engagement.events import RULES
from engagement.models import LedgerAccount, MemberLevel, Membership, TaskRule

SHANGHAI = timezone.get_fixed_timezone(8 * 60)


def rules_run() -> int:
    """Run the rules engine until it has caught up (tests call it where the beat schedule would)."""
    return consumer_run(name=RULES)


def at(day: int, hour: int = 10) -> datetime:
    """A moment of day `day` (1 = 2030-01-01, a Tuesday), Asia/Shanghai."""
    return datetime(2030, 1, 1, hour, tzinfo=SHANGHAI) + timezone.timedelta(days=day - 1)


def balance(user, currency: str = "points") -> tuple[int, int, int]:
    """(balance, held, debt) of one account; zeros when it does not exist."""
    account = LedgerAccount.objects.filter(user=user, currency=currency).first()
    return (account.balance, account.held, account.debt) if account else (0, 0, 0)


def paid(user, order_id: int, total: str, when: datetime | None = None):
    """An `order_paid` event as the mall records it (the engine reads only the event)."""
    return record_event(kind="order_paid", actor=user, object_type="mall.order", object_id=order_id,
                        payload={"total": Decimal(total), "store_id": 1, "kind": "normal", "lines": []},
                        occurred_at=when)


def refunded(order_id: int, amount: str, refund_id: int, when: datetime | None = None):
    return record_event(kind="refund_succeeded", object_type="mall.order", object_id=order_id,
                        payload={"amount": Decimal(amount), "refund_id": refund_id}, occurred_at=when)


@pytest.fixture(autouse=True)
def _only_this_tests_rules(request, _provinces):
    """The built-in rules and levels (data migration 0002) are gone in a transactional test after the first one,
    there in the others: every test here starts without them and makes the rules and levels it needs."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None and "db" not in request.fixturenames:
        return
    TaskRule.objects.update(is_active=False)
    Membership.objects.all().delete()
    MemberLevel.objects.all().delete()
