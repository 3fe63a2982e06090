"""The operator admin of the cards app (cards/admin.py): withdrawals are paid or rejected by actions that call
`commission.withdrawal_decide`; a refusal changes nothing; cards are taken offline through `card_publish`."""
from decimal import Decimal

import pytest

from accounts.models import Role
from cards.models import BusinessCard, CommissionAccount, Withdrawal
from cards.services import commission
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(role=Role.OPERATOR, is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def requested(rep):
    CommissionAccount.objects.create(user=rep, withdrawable=Decimal("300.00"))
    return commission.withdrawal_request(user=rep, amount=Decimal("200.00"), idempotency_key="admin-wd-0001")


def _balances(user) -> tuple:
    account = CommissionAccount.objects.get(user=user)
    return account.withdrawable, account.withdrawing, account.withdrawn


def _act(client, action: str, withdrawal, note: str = ""):
    return client.post("/admin/cards/withdrawal/", {"action": action, "_selected_action": [withdrawal.pk],
                                                    "note": note}, follow=True)


def test_an_operator_pays_a_withdrawal_and_a_second_decision_is_refused(operator_client, rep, requested):
    assert _balances(rep) == (Decimal("100.00"), Decimal("200.00"), Decimal("0.00"))
    response = _act(operator_client, "approve", requested, note="已转账")
    assert response.status_code == 200
    requested.refresh_from_db()
    assert requested.status == Withdrawal.Status.APPROVED and requested.note == "已转账"
    assert _balances(rep) == (Decimal("100.00"), Decimal("0.00"), Decimal("200.00"))
    again = _act(operator_client, "reject", requested, note="重复")
    assert "该提现申请已审核" in again.content.decode()
    assert Withdrawal.objects.get(pk=requested.pk).status == Withdrawal.Status.APPROVED
    assert _balances(rep) == (Decimal("100.00"), Decimal("0.00"), Decimal("200.00"))


def test_rejecting_needs_a_reason_and_gives_the_amount_back(operator_client, rep, requested):
    refused = _act(operator_client, "reject", requested)
    assert "请填写驳回原因" in refused.content.decode()
    assert Withdrawal.objects.get(pk=requested.pk).status == Withdrawal.Status.REQUESTED
    assert _balances(rep) == (Decimal("100.00"), Decimal("200.00"), Decimal("0.00"))
    _act(operator_client, "reject", requested, note="账户信息有误")
    assert Withdrawal.objects.get(pk=requested.pk).status == Withdrawal.Status.REJECTED
    assert _balances(rep) == (Decimal("300.00"), Decimal("0.00"), Decimal("0.00"))


def test_money_rows_are_read_only_for_operators(operator_client, requested):
    page = operator_client.get(f"/admin/cards/withdrawal/{requested.pk}/change/").content.decode()
    assert 'name="amount"' not in page and "¥200.00" in page
    assert operator_client.post(f"/admin/cards/withdrawal/{requested.pk}/change/",
                                {"amount": "9999.00"}).status_code == 403
    assert Withdrawal.objects.get(pk=requested.pk).amount == Decimal("200.00")


def test_an_operator_takes_a_card_offline(operator_client, card):
    operator_client.post("/admin/cards/businesscard/", {"action": "take_offline", "_selected_action": [card.pk]})
    assert BusinessCard.objects.get(pk=card.pk).status == BusinessCard.Status.UNPUBLISHED
    assert operator_client.get(f"/card/{card.pk}").status_code == 404
