"""Money and security: no free payments in production, no provider call inside a transaction, duplicate and late
payments refunded, failed refunds visible and retryable, team expiry racing a payment."""
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import BehaviourEvent
from mall.models import GroupBuyMember, GroupBuyTeam, Order, Payment, Refund
from mall.services import after_sales, group_buys, payments, refunds
from mall.services.payment_providers import SimulatedGateway, providers_check
from mall.tasks import refunds_send_due_task
from supply.models import Stock
from tests.conftest import PROJECT_ROOT
from tests.factories import AddressFactory, GroupBuyCampaignFactory, UserFactory
from tests.helpers import race
from tests.mall.conftest import pay, place, send_refunds
from tests.mall.providers import DecliningGateway, RecordingGateway, UnreachableGateway

pytestmark = pytest.mark.django_db
SIMULATED = "mall.services.payment_providers.SimulatedGateway"


def signed_callback(client, provider: str, body: dict, *, secret: str, signature: str | None = None):
    raw = json.dumps(body).encode()
    return client.post(f"/api/v1/payments/callback/{provider}", data=raw, content_type="application/json",
                       HTTP_X_SIGNATURE=signature if signature is not None else SimulatedGateway(secret).sign(raw))


def unpaid_state(order) -> tuple:
    order.refresh_from_db()
    return order.status, order.payment_status, Payment.objects.filter(order=order).count()


# --- production defaults ----------------------------------------------------------------------------------------
def production_settings(**overrides) -> subprocess.CompletedProcess:
    """Import the real settings in a fresh process with debug off, as production would."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PAYMENT_PROVIDERS", "PAYMENT_SIMULATED_SECRET")}
    env.update(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="production-test-secret-key-0123456789abcdef",
               DJANGO_SETTINGS_MODULE="config.settings", **overrides)
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.PAYMENT_PROVIDERS, repr(settings.PAYMENT_SIMULATED_SECRET))")
    return subprocess.run([sys.executable, "-c", code], check=False, cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_outside_debug_the_simulated_gateway_is_off_and_has_no_secret():
    result = production_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] ''"


def test_outside_debug_start_up_refuses_the_simulated_gateway_without_a_secret():
    result = production_settings(PAYMENT_PROVIDERS=SIMULATED)
    assert result.returncode != 0
    assert "PAYMENT_SIMULATED_SECRET is empty" in result.stderr
    named = production_settings(PAYMENT_PROVIDERS=SIMULATED, PAYMENT_SIMULATED_SECRET="a-long-random-secret-123")
    assert named.returncode == 0, named.stderr
    assert SIMULATED in named.stdout


def test_with_production_settings_nobody_can_pay_without_paying(settings, buyer, address, listing):
    settings.DEBUG = False
    settings.PAYMENT_PROVIDERS = []  # what production gets when it names no provider
    settings.PAYMENT_SIMULATED_SECRET = ""
    providers_check()
    order = place(buyer, address, listing)
    shopper = APIClient()
    shopper.force_authenticate(buyer)
    response = shopper.post(f"/api/v1/orders/{order.pk}/simulated-pay")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    # A "paid" callback forged with the well-known development secret, without logging in:
    forged = {"order_number": order.number, "transaction_id": "forged-1", "amount": str(order.total)}
    response = signed_callback(APIClient(), "simulated", forged, secret="simulated-gateway-dev-secret")
    assert response.status_code == 404 and response.json()["code"] == "provider_unknown"
    assert unpaid_state(order) == (Order.Status.PENDING_PAYMENT, Order.PaymentStatus.UNPAID, 0)
    assert Stock.objects.get(sku=listing.sku).reserved == 1


def test_a_callback_signed_with_another_secret_or_a_strange_header_is_refused(settings, buyer, address, listing):
    settings.PAYMENT_PROVIDERS = [SIMULATED]
    settings.PAYMENT_SIMULATED_SECRET = "the-real-secret-of-this-deployment"
    order = place(buyer, address, listing)
    body = {"order_number": order.number, "transaction_id": "forged-2", "amount": str(order.total)}
    response = signed_callback(APIClient(), "simulated", body, secret="simulated-gateway-dev-secret")
    assert (response.status_code, response.json()["code"]) == (401, "signature_invalid")
    for header in ("é" * 64, "0" * 64, "", "签名".encode().decode("latin-1")):  # as a WSGI server passes it on
        response = signed_callback(Client(), "simulated", body, secret="x", signature=header)
        assert (response.status_code, response.json()["code"]) == (401, "signature_invalid"), header
    response = signed_callback(Client(), "simulated", body, secret="x", signature="签名")  # not even Latin-1
    assert (response.status_code, response.json()["code"]) == (400, "invalid_characters")
    assert unpaid_state(order) == (Order.Status.PENDING_PAYMENT, Order.PaymentStatus.UNPAID, 0)
    response = signed_callback(APIClient(), "simulated", body, secret="the-real-secret-of-this-deployment")
    assert response.status_code == 200
    assert unpaid_state(order) == (Order.Status.PAID, Order.PaymentStatus.PAID, 1)


def test_a_signed_callback_carrying_a_nul_is_a_400(buyer, address, listing):
    order = place(buyer, address, listing)
    body = {"order_number": order.number, "transaction_id": "nul\u0000id", "amount": str(order.total)}
    response = signed_callback(APIClient(), "simulated", body, secret=SimulatedGateway().secret)
    assert (response.status_code, response.json()["code"]) == (400, "callback_malformed")
    assert unpaid_state(order) == (Order.Status.PENDING_PAYMENT, Order.PaymentStatus.UNPAID, 0)


# --- duplicate and late payments --------------------------------------------------------------------------------
def test_a_second_payment_of_a_paid_order_is_recorded_refunded_and_answered_2xx(buyer, address, listing):
    order = pay(place(buyer, address, listing))
    first = Payment.objects.get(order=order)
    secret = SimulatedGateway().secret
    body = {"order_number": order.number, "transaction_id": "second-txn-1", "amount": str(order.total)}
    response = signed_callback(APIClient(), "simulated", body, secret=secret)
    assert response.status_code == 200
    again = signed_callback(APIClient(), "simulated", body, secret=secret)  # the provider retries its notice
    assert again.status_code == 200 and again.json()["payment_id"] == response.json()["payment_id"]
    second = Payment.objects.get(provider_transaction_id="second-txn-1")
    assert second.status == Payment.Status.RETURNED
    refund = Refund.objects.get(payment=second)
    assert (refund.amount, refund.status, refund.reason) == (order.total, Refund.Status.PENDING,
                                                              "late_or_duplicate_payment")
    assert send_refunds() == [Refund.Status.SUCCEEDED]
    order.refresh_from_db()
    first.refresh_from_db()
    assert (order.status, order.payment_status, order.refunded_total) == (Order.Status.PAID, Order.PaymentStatus.PAID,
                                                                          0)
    assert first.status == Payment.Status.SUCCEEDED and not first.refunds.exists()
    assert Stock.objects.get(sku=listing.sku).sold == 1  # sold once
    assert BehaviourEvent.objects.filter(kind="payment_refunded_late").count() == 1


# --- refunds are sent outside transactions ----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_provider_is_called_after_commit_never_inside_a_transaction(settings, buyer, address, listing):
    settings.PAYMENT_PROVIDERS = [SIMULATED, "tests.mall.providers.RecordingGateway"]
    RecordingGateway.calls.clear()
    order = place(buyer, address, listing, quantity=2)
    body, headers = RecordingGateway().paid_notice(order=order)
    payments.payment_callback(provider="recording", body=body, headers=headers)
    after_sale = after_sales.after_sale_request(buyer=buyer, order_id=order.pk, line_id=order.lines.get().pk,
                                                kind="refund_only", quantity=1, reason="不想要了")
    after_sales.after_sale_approve(after_sale_id=after_sale.pk, store=order.store, actor=None)
    # Eager tasks run on commit: the refund was sent once the approval had committed.
    assert RecordingGateway.calls == [{"reference": f"after-sale:{after_sale.pk}", "in_transaction": False}]
    assert Refund.objects.get(order=order).status == Refund.Status.SUCCEEDED
    with pytest.raises(RuntimeError, match="never inside a database transaction"), transaction.atomic():
        refunds.refund_send(refund_id=Refund.objects.get(order=order).pk)


def declining_paid_order(settings, buyer, address, listing):
    settings.PAYMENT_PROVIDERS = [SIMULATED, "tests.mall.providers.DecliningGateway"]
    order = place(buyer, address, listing)
    body, headers = DecliningGateway().paid_notice(order=order)
    payments.payment_callback(provider="declining", body=body, headers=headers)
    order.refresh_from_db()
    return order


def test_a_declined_refund_is_failed_visible_and_retried_by_an_operator(settings, buyer, address, listing,
                                                                         admin_client):
    DecliningGateway.declines = True
    order = declining_paid_order(settings, buyer, address, listing)
    after_sale = after_sales.after_sale_request(buyer=buyer, order_id=order.pk, line_id=order.lines.get().pk,
                                                kind="refund_only", quantity=1, reason="不想要了")
    after_sales.after_sale_approve(after_sale_id=after_sale.pk, store=order.store, actor=None)
    assert send_refunds() == [Refund.Status.FAILED]
    refund = Refund.objects.get(order=order)
    assert refund.status == Refund.Status.FAILED and "merchant balance" in refund.last_error
    assert BehaviourEvent.objects.filter(kind="refund_failed").count() == 1
    listing_page = admin_client.get("/admin/mall/refund/")
    assert listing_page.status_code == 200 and "失败" in listing_page.content.decode()
    DecliningGateway.declines = False  # the operator topped up the merchant account
    try:
        response = admin_client.post("/admin/mall/refund/", {"action": "retry_refunds",
                                                             "_selected_action": [refund.pk]})
        assert response.status_code == 302
        refund.refresh_from_db()
        assert refund.status == Refund.Status.PENDING and refund.attempts == 0
        assert send_refunds() == [Refund.Status.SUCCEEDED]
        refund.refresh_from_db()
        assert refund.status == Refund.Status.SUCCEEDED and refund.provider_refund_id
        with pytest.raises(refunds.Conflict):  # a succeeded refund is not retried
            refunds.refund_retry(refund_id=refund.pk)
    finally:
        DecliningGateway.declines = True


def test_an_unreachable_provider_is_retried_with_a_bound_then_failed(settings, buyer, address, listing):
    settings.PAYMENT_PROVIDERS = [SIMULATED, "tests.mall.providers.UnreachableGateway"]
    settings.REFUND_MAX_ATTEMPTS = 3
    order = place(buyer, address, listing)
    body, headers = UnreachableGateway().paid_notice(order=order)
    payments.payment_callback(provider="unreachable", body=body, headers=headers)
    order.refresh_from_db()
    after_sale = after_sales.after_sale_request(buyer=buyer, order_id=order.pk, line_id=order.lines.get().pk,
                                                kind="refund_only", quantity=1, reason="不想要了")
    after_sales.after_sale_approve(after_sale_id=after_sale.pk, store=order.store, actor=None)
    refund = Refund.objects.get(order=order)
    for attempt in (1, 2):
        with pytest.raises(refunds.RefundRetryLater):
            refunds.refund_send(refund_id=refund.pk)
        refund.refresh_from_db()
        assert (refund.status, refund.attempts) == (Refund.Status.PENDING, attempt)
    assert refunds.refund_send(refund_id=refund.pk) == Refund.Status.FAILED
    refund.refresh_from_db()
    assert refund.attempts == 3 and "connect timeout" in refund.last_error


def test_the_sweep_sends_a_refund_whose_task_was_lost(buyer, address, listing):
    order = pay(place(buyer, address, listing))
    after_sale = after_sales.after_sale_request(buyer=buyer, order_id=order.pk, line_id=order.lines.get().pk,
                                                kind="refund_only", quantity=1, reason="不想要了")
    after_sales.after_sale_approve(after_sale_id=after_sale.pk, store=order.store, actor=None)
    refund = Refund.objects.get(order=order)
    assert refunds_send_due_task() == 0  # too young: its task may still come
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert refunds_send_due_task() == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert refunds_send_due_task() == 0


# --- team expiry racing a member's payment ----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_team_expiry_racing_a_members_payment_never_deadlocks_or_loses_a_refund(listing):
    secret = SimulatedGateway().secret
    for round_number in range(6):
        campaign = GroupBuyCampaignFactory(listing=listing, team_size=3)
        leader, member = UserFactory(), UserFactory()
        team = group_buys.group_buy_open(buyer=leader, campaign_id=campaign.pk, quantity=1,
                                         address_id=AddressFactory(user=leader).pk,
                                         idempotency_key=f"race-leader-{round_number}")
        pay(Order.objects.get(group_buy_member__team=team, buyer=leader))
        group_buys.group_buy_join(buyer=member, team_id=team.pk, quantity=1,
                                  address_id=AddressFactory(user=member).pk,
                                  idempotency_key=f"race-member-{round_number}")
        member_order = Order.objects.get(group_buy_member__team=team, buyer=member)
        GroupBuyTeam.objects.filter(pk=team.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        raw = json.dumps({"order_number": member_order.number, "transaction_id": f"race-pay-{round_number}",
                          "amount": str(member_order.total)}).encode()

        def act(index, raw=raw, team=team):
            if index == 0:
                return group_buys.group_buy_team_expire(team_id=team.pk)
            return payments.payment_callback(provider="simulated", body=raw,
                                             headers={"X-Signature": SimulatedGateway(secret).sign(raw)})

        _results, errors = race(2, act)
        assert errors == [], errors
        team.refresh_from_db()
        assert team.status == GroupBuyTeam.Status.FAILED
        for payment in Payment.objects.filter(order__group_buy_member__team=team):
            refunded = sum(refund.amount for refund in payment.refunds.all())
            assert refunded == payment.amount, (round_number, payment.order.buyer_id, payment.status)
            assert all(refund.status == Refund.Status.SUCCEEDED for refund in payment.refunds.all())
        for order in Order.objects.filter(group_buy_member__team=team):
            assert order.status in (Order.Status.CLOSED, Order.Status.CANCELLED), order.status
        assert not GroupBuyMember.objects.filter(team=team, status=GroupBuyMember.Status.HOLDING).exists()
    stock = Stock.objects.get(sku=listing.sku)
    assert (stock.reserved, stock.sold) == (0, 0)
