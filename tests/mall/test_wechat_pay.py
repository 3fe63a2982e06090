"""WeChat Pay API v3 (JSAPI) as a payment provider, against the local WeChat Pay of tests/wechat_server.py: prepay and
the signed wx.requestPayment parameters, notices verified and decrypted (forgeries refused, the order left unpaid),
the query for a notice that never came, refunds through the refund task."""
import os
import string
import subprocess
import sys
import time
from base64 import b64decode
from datetime import UTC, datetime, timedelta

import pytest
from celery.exceptions import Retry
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from accounts import services as account_services
from mall.models import AfterSale, Order, Payment, Refund
from mall.services import after_sales, payments, refunds
from mall.services.payment_providers import ProviderUnavailable, RefundDeclined, provider_get
from mall.services.wechat_pay import WeChatPayProvider, fen, out_refund_no
from supply.models import Stock
from tests.conftest import PROJECT_ROOT, WECHAT_APPID
from tests.factories import AddressFactory, UserFactory
from tests.mall.conftest import place
from tests.wechat_server import public_pem, random_text, rsa_key, rsa_sign

pytestmark = pytest.mark.django_db
CALLBACK = "/api/v1/payments/callback/wechatpay"


@pytest.fixture
def wechat_buyer(wechat):
    """A shopper who logged in with WeChat: their openid is bound."""
    return account_services.wechat_login(code=wechat.login_code()).user


@pytest.fixture
def order(wechat_buyer, listing):
    return place(wechat_buyer, AddressFactory(user=wechat_buyer), listing)


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def start_paying(order):
    return api_as(order.buyer).post(f"/api/v1/orders/{order.pk}/pay", {"provider": "wechatpay"}, format="json")


def post_notice(body: bytes, headers: dict):
    return APIClient().generic("POST", CALLBACK, body, content_type="application/json", **headers)


def unpaid(order) -> bool:
    order.refresh_from_db()
    return (order.status, order.payment_status, Payment.objects.filter(order=order).count()) == (
        Order.Status.PENDING_PAYMENT, Order.PaymentStatus.UNPAID, 0)


def paid_through_wechat(wechat, order) -> Payment:
    assert start_paying(order).status_code == 200
    transaction = wechat.pay(order.number)
    response = post_notice(*wechat.notice(transaction))
    assert response.status_code == 200, response.json()
    return Payment.objects.get(order=order, provider="wechatpay")


# --- prepay -----------------------------------------------------------------------------------------------------
def test_paying_prepays_and_answers_wx_request_payment_signed_with_the_merchant_key(wechat, wechat_keys, order):
    response = start_paying(order)
    assert response.status_code == 200, response.json()
    body = response.json()
    transaction = wechat.transactions[order.number]
    assert (body["provider"], body["order_number"], body["amount"], body["appid"]) == (
        "wechatpay", order.number, str(order.total), WECHAT_APPID)
    assert transaction["amount"] == {"total": fen(order.total), "currency": "CNY"}
    assert transaction["amount"]["total"] == int(order.total * 100)
    assert transaction["payer"]["openid"] == order.buyer.wechat_accounts.get().openid
    assert datetime.fromisoformat(transaction["time_expire"]) == order.pay_deadline.replace(microsecond=0)
    assert transaction["notify_url"] == "https://mall.example.com/api/v1/payments/callback/wechatpay"
    request_payment = body["request_payment"]
    assert set(request_payment) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert request_payment["package"] == f"prepay_id={transaction['prepay_id']}"
    assert request_payment["signType"] == "RSA"
    assert abs(int(request_payment["timeStamp"]) - time.time()) < 60
    message = (f"{WECHAT_APPID}\n{request_payment['timeStamp']}\n{request_payment['nonceStr']}\n"
               f"{request_payment['package']}\n").encode()
    wechat_keys.merchant.public_key().verify(b64decode(request_payment["paySign"]), message, padding.PKCS1v15(),
                                             hashes.SHA256())  # raises InvalidSignature when it does not verify
    assert unpaid(order)


def test_paying_again_reuses_the_prepaid_transaction(wechat, order):
    first = start_paying(order).json()["request_payment"]["package"]
    second = start_paying(order).json()["request_payment"]["package"]
    assert first == second and len(wechat.transactions) == 1
    assert [path for _method, path in wechat.requests].count("/v3/pay/transactions/jsapi") == 2


def test_a_shopper_who_never_logged_in_with_wechat_is_told_to(wechat, buyer, address, listing):
    order = place(buyer, address, listing)
    response = start_paying(order)
    assert (response.status_code, response.json()["code"]) == (422, "wechat_openid_missing")
    assert wechat.requests == [] and unpaid(order)


def test_an_order_wechat_pay_already_took_money_for_is_a_conflict(wechat, order):
    start_paying(order)
    wechat.pay(order.number)
    response = start_paying(order)
    assert (response.status_code, response.json()["code"]) == (409, "order_not_payable")
    assert response.json()["detail"] == {"provider_code": "ORDERPAID"}


def test_an_answer_not_signed_by_the_platform_key_is_refused(wechat, settings, order):
    settings.WECHATPAY_PLATFORM_PUBLIC_KEY = public_pem(rsa_key())  # we trust another key than the server signs with
    response = start_paying(order)
    assert (response.status_code, response.json()["code"]) == (503, "payment_provider_unavailable")
    assert unpaid(order)


def test_a_provider_that_is_not_enabled_does_not_pay(settings, wechat, order):
    settings.PAYMENT_PROVIDERS = [settings.SIMULATED_GATEWAY]
    response = start_paying(order)
    assert (response.status_code, response.json()["code"]) == (404, "provider_unknown")
    response = post_notice(b"{}", {})
    assert response.status_code == 404 and response.json()["code"] == "FAIL"
    assert response.json()["detail"]["reason"] == "provider_unknown"
    assert not [path for _method, path in wechat.requests if path.startswith("/v3/")] and unpaid(order)


# --- notices ----------------------------------------------------------------------------------------------------
def test_a_genuine_notice_pays_the_order_once_and_its_repeats_change_nothing(wechat, order, listing):
    assert start_paying(order).status_code == 200
    transaction = wechat.pay(order.number)
    body, headers = wechat.notice(transaction)
    response = post_notice(body, headers)
    assert response.status_code == 200 and response.json() == {"code": "SUCCESS", "message": "成功"}
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (Order.Status.PAID, Order.PaymentStatus.PAID)
    payment = Payment.objects.get(order=order)
    assert (payment.provider, payment.provider_transaction_id, payment.amount) == (
        "wechatpay", transaction["transaction_id"], order.total)
    for repeat in (wechat.notice(transaction), (body, headers)):  # WeChat Pay sends it again, newly signed or not
        assert post_notice(*repeat).status_code == 200
    assert Payment.objects.filter(order=order).count() == 1
    stock = Stock.objects.get(sku=listing.sku)
    assert (stock.reserved, stock.sold) == (0, 1)


def forged(wechat, transaction) -> dict:
    """name -> (body, headers) of notices that must not pay."""
    attacker = rsa_key()

    def without(name):
        body, headers = wechat.notice(transaction)
        headers.pop(name)
        return body, headers

    def replace_ciphertext(body):
        body["resource"]["ciphertext"] = body["resource"]["ciphertext"][::-1]

    def signed_text(raw: str):
        """A body only the platform key could have signed, that is no notice at all."""
        stamp, nonce = str(int(time.time())), "n" * 32
        return raw.encode(), {"HTTP_WECHATPAY_SIGNATURE": rsa_sign(wechat.keys.platform, f"{stamp}\n{nonce}\n{raw}\n"),
                              "HTTP_WECHATPAY_TIMESTAMP": stamp, "HTTP_WECHATPAY_NONCE": nonce,
                              "HTTP_WECHATPAY_SERIAL": wechat.keys.platform_key_id}

    return {
        "signed with another key": wechat.notice(transaction, sign_with=attacker),
        "another serial": wechat.notice(transaction, serial="PUB_KEY_ID_0000000000000000000000000000000000"),
        "stale timestamp": wechat.notice(transaction, timestamp=int(time.time()) - 600),
        "timestamp from the future": wechat.notice(transaction, timestamp=int(time.time()) + 600),
        "ciphertext changed after signing": wechat.notice(transaction, body_edit=replace_ciphertext),
        "encrypted with another APIv3 key": wechat.notice(transaction, apiv3_key=random_text(32)),
        "no signature header": without("HTTP_WECHATPAY_SIGNATURE"),
        "no timestamp header": without("HTTP_WECHATPAY_TIMESTAMP"),
        "amount differs from the order": wechat.notice({**transaction, "amount": {**transaction["amount"],
                                                                                 "total": 1}}),
        "another merchant's transaction": wechat.notice({**transaction, "mchid": "1900000001"}),
        "not JSON though signed": signed_text("not json"),
        "a list though signed": signed_text("[1, 2]"),
    }


EXPECTED_REFUSALS = {
    "signed with another key": (401, "signature_invalid"),
    "another serial": (401, "signature_invalid"),
    "stale timestamp": (401, "notice_stale"),
    "timestamp from the future": (401, "notice_stale"),
    "ciphertext changed after signing": (401, "signature_invalid"),
    "encrypted with another APIv3 key": (400, "callback_undecryptable"),
    "no signature header": (401, "signature_invalid"),
    "no timestamp header": (401, "signature_invalid"),
    "amount differs from the order": (422, "amount_mismatch"),
    "another merchant's transaction": (400, "callback_malformed"),
    "not JSON though signed": (400, "callback_malformed"),
    "a list though signed": (400, "callback_malformed"),
}


@pytest.mark.parametrize("name", EXPECTED_REFUSALS)
def test_a_forged_notice_is_refused_as_wechat_pay_expects_and_the_order_stays_unpaid(wechat, order, listing, name):
    assert start_paying(order).status_code == 200
    transaction = wechat.pay(order.number)
    response = post_notice(*forged(wechat, transaction)[name])
    status, reason = EXPECTED_REFUSALS[name]
    payload = response.json()
    assert (response.status_code, payload["code"], payload["detail"]["reason"]) == (status, "FAIL", reason), payload
    assert payload["message"]
    assert unpaid(order)
    assert Stock.objects.get(sku=listing.sku).reserved == 1


MOJIBAKE = "签名".encode().decode("latin-1")  # what a WSGI server hands over for UTF-8 bytes in a header


@pytest.mark.parametrize(("header", "value", "reason"), [
    ("HTTP_WECHATPAY_SIGNATURE", MOJIBAKE * 60, "signature_invalid"),
    ("HTTP_WECHATPAY_NONCE", MOJIBAKE, "signature_invalid"),
    ("HTTP_WECHATPAY_SERIAL", MOJIBAKE, "signature_invalid"),
    ("HTTP_WECHATPAY_SIGNATURE_TYPE", "WECHATPAY2-SM2-WITH-SM3", "signature_invalid"),
    ("HTTP_WECHATPAY_TIMESTAMP", "１７００００００００".encode().decode("latin-1"), "notice_stale"),
    ("HTTP_WECHATPAY_TIMESTAMP", "9" * 40, "notice_stale"),
])
def test_odd_header_values_in_a_genuine_notice_are_refused(wechat, order, header, value, reason):
    start_paying(order)
    body, headers = wechat.notice(wechat.pay(order.number))
    response = post_notice(body, {**headers, header: value})
    assert (response.status_code, response.json()["detail"]["reason"]) == (401, reason)
    assert unpaid(order)


def test_refund_and_other_notices_are_acknowledged_and_change_nothing(wechat, order):
    start_paying(order)
    transaction = wechat.transactions[order.number]  # not paid yet: NOTPAY
    response = post_notice(*wechat.notice(transaction, event_type="REFUND.SUCCESS"))
    assert response.status_code == 200 and response.json()["code"] == "SUCCESS"
    response = post_notice(*wechat.notice(dict(transaction)))  # a TRANSACTION.SUCCESS event of an unpaid trade
    assert response.status_code == 200 and unpaid(order)


def test_a_notice_for_an_order_closed_meanwhile_is_taken_and_refunded(wechat, order,
                                                                     django_capture_on_commit_callbacks):
    start_paying(order)
    from mall.services import orders

    orders.order_cancel(order_id=order.pk, actor=order.buyer, reason="buyer_cancelled")
    transaction = wechat.pay(order.number)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_notice(*wechat.notice(transaction))
    assert response.status_code == 200
    payment = Payment.objects.get(order=order)
    refund = Refund.objects.get(payment=payment)
    assert (payment.status, refund.status, refund.amount) == (Payment.Status.RETURNED, Refund.Status.SUCCEEDED,
                                                              order.total)
    sent = wechat.refunds[out_refund_no(refund.reference)]
    assert sent["refund_id"] == refund.provider_refund_id and sent["amount"]["refund"] == fen(order.total)


# --- query ------------------------------------------------------------------------------------------------------
def test_the_query_pays_an_order_whose_notice_never_came(wechat, order):
    assert start_paying(order).status_code == 200
    assert payments.payment_query(order_id=order.pk) is None  # prepaid, not paid
    assert unpaid(order)
    transaction = wechat.pay(order.number)
    payment = payments.payment_query(order_id=order.pk)
    assert (payment.provider_transaction_id, payment.amount) == (transaction["transaction_id"], order.total)
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID
    assert payments.payment_query(order_id=order.pk) == payment  # asking again changes nothing
    assert post_notice(*wechat.notice(transaction)).status_code == 200  # the late notice neither
    assert Payment.objects.filter(order=order).count() == 1
    queries = [path for _method, path in wechat.requests if path.startswith("/v3/pay/transactions/out-trade-no/")]
    assert queries == [f"/v3/pay/transactions/out-trade-no/{order.number}"] * 2


def test_the_query_of_an_order_never_prepaid_finds_nothing(wechat, order):
    assert payments.payment_query(order_id=order.pk) is None
    assert unpaid(order)


def test_the_operator_action_asks_wechat_pay(wechat, order, client):
    start_paying(order)
    wechat.pay(order.number)
    client.force_login(UserFactory(role="operator", is_staff=True, is_superuser=True))
    response = client.post("/admin/mall/order/", {"action": "query_payment", "_selected_action": [order.pk]})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PAID


# --- refunds ----------------------------------------------------------------------------------------------------
def refund_after_sale(order, django_capture_on_commit_callbacks) -> Refund:
    after_sale = after_sales.after_sale_request(buyer=order.buyer, order_id=order.pk,
                                                line_id=order.lines.get().pk, kind=AfterSale.Kind.REFUND_ONLY,
                                                quantity=1, reason="不想要了")
    with django_capture_on_commit_callbacks(execute=True):  # the refund task runs after commit
        after_sales.after_sale_approve(after_sale_id=after_sale.pk, store=order.store, actor=order.store.owner)
    return Refund.objects.get(order=order)


def test_a_refund_goes_through_the_refund_task_to_wechat_pay(wechat, order, django_capture_on_commit_callbacks):
    payment = paid_through_wechat(wechat, order)
    refund = refund_after_sale(order, django_capture_on_commit_callbacks)
    assert refund.status == Refund.Status.SUCCEEDED, refund.last_error
    assert refund.reference == f"after-sale:{refund.order.after_sales.get().pk}"
    sent = wechat.refunds[out_refund_no(refund.reference)]
    assert out_refund_no(refund.reference) == refund.reference.replace(":", "*3A")
    assert sent["refund_id"] == refund.provider_refund_id
    assert sent["transaction_id"] == payment.provider_transaction_id
    assert sent["amount"]["refund"] == fen(refund.amount) and sent["amount"]["total"] == fen(payment.amount)
    # sent again (a retried task), WeChat Pay answers the same refund and takes no more money
    again = provider_get("wechatpay").refund(transaction_id=payment.provider_transaction_id, amount=refund.amount,
                                             total=payment.amount, reference=refund.reference)
    assert again == refund.provider_refund_id and len(wechat.refunds) == 1
    assert wechat.transactions[order.number]["refunded"] == fen(refund.amount)


@pytest.mark.parametrize(("failure", "outcome"), [
    ((403, "NOT_ENOUGH", "基本账户余额不足"), Refund.Status.FAILED),
    ((400, "INVALID_REQUEST", "订单已全额退款"), Refund.Status.FAILED),
    ((500, "SYSTEM_ERROR", "系统错误"), Refund.Status.PENDING),
    ((429, "FREQUENCY_LIMITED", "频率限制"), Refund.Status.PENDING),
])
def test_a_refused_refund_fails_and_a_temporary_error_is_retried(wechat, order, django_capture_on_commit_callbacks,
                                                                 failure, outcome):
    paid_through_wechat(wechat, order)
    wechat.queued_refund_failures.append(failure)
    try:
        refund = refund_after_sale(order, django_capture_on_commit_callbacks)
    except Retry:  # the eager task asks to be retried later (with backoff, in a worker)
        refund = Refund.objects.get(order=order)
    assert refund.status == outcome
    assert failure[1] in refund.last_error
    assert wechat.refunds == {}
    if outcome == Refund.Status.PENDING:
        assert refunds.refund_send(refund_id=refund.pk) == Refund.Status.SUCCEEDED  # the retry goes through


def test_the_provider_maps_wechat_pay_refund_answers(wechat, order):
    payment = paid_through_wechat(wechat, order)
    provider = provider_get("wechatpay")
    wechat.queued_refund_failures.append((403, "NOT_ENOUGH", "基本账户余额不足"))
    with pytest.raises(RefundDeclined, match="NOT_ENOUGH"):
        provider.refund(transaction_id=payment.provider_transaction_id, amount=payment.amount, total=payment.amount,
                        reference="r-1")
    wechat.queued_refund_failures.append((503, "SYSTEM_ERROR", "系统繁忙"))
    with pytest.raises(ProviderUnavailable):
        provider.refund(transaction_id=payment.provider_transaction_id, amount=payment.amount, total=payment.amount,
                        reference="r-1")
    assert wechat.refunds == {}


# --- configuration ----------------------------------------------------------------------------------------------
def test_outside_debug_start_up_refuses_wechat_pay_without_its_settings():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WECHATPAY_", "PAYMENT_"))}
    env.update(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="production-test-secret-key-0123456789abcdef",
               DJANGO_SETTINGS_MODULE="config.settings",
               PAYMENT_PROVIDERS="mall.services.wechat_pay.WeChatPayProvider", WECHATPAY_MCHID="1900009191")
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], check=False, cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "WeChat Pay is enabled" in result.stderr and "WECHATPAY_PRIVATE_KEY" in result.stderr
    assert "WECHATPAY_MCHID" not in result.stderr.split("WeChat Pay is enabled")[1].split("is empty")[0]


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("WECHATPAY_APIV3_KEY", "too-short", "32-character"),
    ("WECHATPAY_PRIVATE_KEY", "/nonexistent/apiclient_key.pem", "cannot be read"),
    ("WECHATPAY_PLATFORM_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----\nbroken\n-----END PUBLIC KEY-----", "cannot be read"),
    ("WECHATPAY_NOTIFY_URL", "", "WECHATPAY_NOTIFY_URL"),
])
def test_bad_wechat_pay_settings_are_refused_by_name(wechat, settings, setting, value, message):
    setattr(settings, setting, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        WeChatPayProvider().check_configured()


def test_keys_may_be_files_and_the_platform_key_a_certificate(wechat, wechat_keys, settings, tmp_path, order):
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text(settings.WECHATPAY_PRIVATE_KEY)
    settings.WECHATPAY_PRIVATE_KEY = str(key_file)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(wechat_keys.platform.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
                   .sign(wechat_keys.platform, hashes.SHA256()))
    from cryptography.hazmat.primitives.serialization import Encoding

    settings.WECHATPAY_PLATFORM_PUBLIC_KEY = certificate.public_bytes(Encoding.PEM).decode()
    settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID = ""
    provider = WeChatPayProvider()
    provider.check_configured()
    serial = format(certificate.serial_number, "X")
    assert provider.platform_key[2] == serial
    # The local WeChat Pay signs its answers under the public key id, so this test skips the prepay and pays a
    # transaction it holds; the notice is signed with the certificate's key and names the certificate's serial.
    wechat.transactions[order.number] = {
        "appid": WECHAT_APPID, "mchid": wechat.mchid, "out_trade_no": order.number, "trade_type": "JSAPI",
        "trade_state": "NOTPAY", "payer": {"openid": "o"}, "amount": {"total": fen(order.total), "currency": "CNY"},
        "refunded": 0}
    transaction = wechat.pay(order.number, transaction_id="4200" + "7" * 24)
    response = post_notice(*wechat.notice(transaction, serial=serial))
    assert response.status_code == 200, response.json()
    assert Payment.objects.get(order=order).provider_transaction_id == "4200" + "7" * 24


def test_out_refund_numbers_keep_to_wechats_characters_one_to_one():
    assert out_refund_no("returned:12") == "returned*3A12"
    assert out_refund_no("a*b") == "a*2Ab" and out_refund_no("a:b") != out_refund_no("a-b")
    assert out_refund_no("after-sale|7@x_y") == "after-sale|7@x_y"
    long = out_refund_no(":" * 40)
    assert len(long) == 64 and set(long) <= set(string.ascii_lowercase + string.digits)
