"""WeChat Pay API v3, JSAPI (the mini-program's wx.requestPayment), as a payment provider, built on the
`wechatpayv3` package (request signing, response and notice verification, AEAD_AES_256_GCM decryption).

Enabled by naming `mall.services.wechat_pay.WeChatPayProvider` in PAYMENT_PROVIDERS; start-up refuses it without
its settings (WECHATPAY_*: merchant id, AppID, merchant private key and certificate serial number, APIv3 key, the
platform public key or certificate and its id, notify URL).

- checkout: prepay (POST /v3/pay/transactions/jsapi: amount in fen, out_trade_no = our order number, payer = the
  buyer's openid from their WeChat login, closing when our pay window does), then the parameters
  wx.requestPayment needs, signed with the merchant key (timeStamp, nonceStr, package=prepay_id=..., signType RSA,
  paySign). A buyer who never logged in with WeChat has no openid: `wechat_openid_missing` (422).
- notices (POST /api/v1/payments/callback/wechatpay): the Wechatpay-Signature / -Timestamp / -Nonce / -Serial
  headers are checked first by us (the serial must be our platform key's id, so the package never goes fetching
  certificates for a stranger's serial; a timestamp further than WECHATPAY_NOTICE_MAX_AGE_SECONDS from our clock
  is refused), then the package verifies the RSA signature and decrypts the resource with the APIv3 key.
  TRANSACTION.SUCCESS becomes a PaymentNotice (fen -> Decimal yuan); refund notices (the package sends our notify
  URL with refunds too) and other events are acknowledged and change nothing.
- query (GET /v3/pay/transactions/out-trade-no/{no}) for orders whose notice never came (`payments.payment_query`).
- refund (POST /v3/refund/domestic/refunds), idempotent on out_refund_no (our refund reference, escaped into the
  characters WeChat allows); a temporary failure is ProviderUnavailable, a refusal RefundDeclined.

The package has no setting for its gateway, only the attribute `Core._gate_way`: `WeChatPayProvider.client` sets
it from WECHATPAY_BASE_URL, and nowhere else does (the tests point it at their local WeChat Pay).
"""
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from decimal import Decimal
from functools import cached_property
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import rsa_verify

from accounts import selectors as account_selectors
from core.errors import (
    BusinessRuleViolation,
    Conflict,
    DomainError,
    NotAuthenticated,
    ServiceUnavailable,
    ValidationFailed,
)
from core.money import CURRENCY, to_money
from core.parsers import data_vet
from mall.services.payment_providers import (
    NoticeIgnored,
    PaymentNotice,
    PaymentProvider,
    ProviderUnavailable,
    RefundDeclined,
)

logger = logging.getLogger(__name__)

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
NOTICE_HEADERS = ("wechatpay-signature", "wechatpay-timestamp", "wechatpay-nonce", "wechatpay-serial")
TIMESTAMP = re.compile(r"[0-9]{1,12}")
PAID_EVENT = "TRANSACTION.SUCCESS"
# out_refund_no: digits, letters and _-|*@, at most 64. We keep '*' as our escape character.
REFUND_NUMBER_SAFE = re.compile(r"[0-9A-Za-z_\-|@]")
REFUND_NUMBER_MAX = 64
DESCRIPTION_MAX = 127
# WeChat Pay's error codes that mean "later", not "no".
TEMPORARY_ERRORS = frozenset({"SYSTEM_ERROR", "FREQUENCY_LIMITED", "BANK_ERROR"})
NOT_PAYABLE_ERRORS = frozenset({"ORDERPAID", "ORDER_CLOSED", "ORDERCLOSED"})
REQUIRED_SETTINGS = ("WECHATPAY_MCHID", "WECHATPAY_APPID", "WECHATPAY_PRIVATE_KEY", "WECHATPAY_CERT_SERIAL_NO",
                     "WECHATPAY_APIV3_KEY", "WECHATPAY_PLATFORM_PUBLIC_KEY", "WECHATPAY_NOTIFY_URL")


def pem_text(value: str) -> str:
    """A key setting holds the PEM itself or the path of a file holding it. In an environment variable the PEM's
    line breaks may be written as `\\n`."""
    value = (value or "").strip()
    if "-----BEGIN" in value:
        return value.replace("\\n", "\n")
    return Path(value).read_text(encoding="utf-8")


def fen(amount: Decimal) -> int:
    """Yuan (Decimal, 2 places) -> fen, exactly."""
    cents = to_money(amount) * 100
    return int(cents.to_integral_value())


def yuan_from_fen(value: int) -> Decimal:
    return to_money(Decimal(value).scaleb(-2))


def out_refund_no(reference: str) -> str:
    """Our refund reference in the characters WeChat allows, one to one: 'after-sale:12' -> 'after-sale*3A12'."""
    escaped = "".join(char if REFUND_NUMBER_SAFE.fullmatch(char) else "".join(f"*{byte:02X}" for byte in
                                                                             char.encode()) for char in reference)
    if len(escaped) > REFUND_NUMBER_MAX:
        escaped = "h" + hashlib.sha256(reference.encode()).hexdigest()[:REFUND_NUMBER_MAX - 1]
    return escaped


class WeChatPayProvider(PaymentProvider):
    name = "wechatpay"

    def __init__(self):
        self.mchid = settings.WECHATPAY_MCHID
        self.appid = settings.WECHATPAY_APPID
        self.notify_url = settings.WECHATPAY_NOTIFY_URL
        self.base_url = settings.WECHATPAY_BASE_URL.rstrip("/")
        self.timeout = settings.WECHATPAY_TIMEOUT_SECONDS
        self.notice_max_age = settings.WECHATPAY_NOTICE_MAX_AGE_SECONDS

    # --- configuration --------------------------------------------------------------------------------------------
    def check_configured(self) -> None:
        missing = [name for name in REQUIRED_SETTINGS if not getattr(settings, name, "")]
        if missing:
            raise ImproperlyConfigured(
                f"WeChat Pay is enabled (PAYMENT_PROVIDERS) but {', '.join(missing)} is empty: set them, or remove "
                f"{settings.WECHATPAY_PROVIDER} from PAYMENT_PROVIDERS.")
        if len(settings.WECHATPAY_APIV3_KEY.encode()) != 32:
            raise ImproperlyConfigured("WECHATPAY_APIV3_KEY must be the 32-character APIv3 key of the merchant.")
        try:
            private_key = serialization.load_pem_private_key(pem_text(settings.WECHATPAY_PRIVATE_KEY).encode(), None)
            self.platform_key  # noqa: B018  (loads and checks the platform key)
        except (OSError, ValueError, TypeError) as error:
            raise ImproperlyConfigured(f"WeChat Pay keys cannot be read: {error}") from error
        if not hasattr(private_key, "sign"):
            raise ImproperlyConfigured("WECHATPAY_PRIVATE_KEY is not an RSA private key.")

    @cached_property
    def platform_key(self) -> tuple[RSAPublicKey, str, str]:
        """(public key, its PEM, its id): from the platform public key, or from a platform certificate whose serial
        number is the id."""
        text = pem_text(settings.WECHATPAY_PLATFORM_PUBLIC_KEY)
        key_id = settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID
        if "BEGIN CERTIFICATE" in text:
            certificate = x509.load_pem_x509_certificate(text.encode())
            public_key = certificate.public_key()
            key_id = key_id or format(certificate.serial_number, "X")
        else:
            public_key = serialization.load_pem_public_key(text.encode())
        if not isinstance(public_key, RSAPublicKey):
            raise ValueError("the WeChat Pay platform key is not an RSA key")
        if not key_id:
            raise ValueError("WECHATPAY_PLATFORM_PUBLIC_KEY_ID is empty")
        pem = public_key.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        return public_key, pem, key_id

    @cached_property
    def client(self) -> WeChatPay:
        _public_key, pem, key_id = self.platform_key
        pay = WeChatPay(wechatpay_type=WeChatPayType.MINIPROG, mchid=self.mchid,
                        private_key=pem_text(settings.WECHATPAY_PRIVATE_KEY),
                        cert_serial_no=settings.WECHATPAY_CERT_SERIAL_NO, appid=self.appid,
                        apiv3_key=settings.WECHATPAY_APIV3_KEY, notify_url=self.notify_url,
                        public_key=pem, public_key_id=key_id, timeout=(min(3.0, self.timeout), self.timeout))
        # The package's gateway is a fixed attribute without a setting: this is the one place that moves it.
        pay._core._gate_way = self.base_url
        return pay

    def _call(self, method, **kwargs) -> tuple[int, dict]:
        """Call the package; (HTTP status, JSON body). ProviderUnavailable when WeChat Pay cannot be reached or its
        answer does not verify."""
        try:
            status, message = method(**kwargs)
        except requests.RequestException as error:
            raise ProviderUnavailable(f"WeChat Pay cannot be reached: {type(error).__name__}") from error
        except Exception as error:  # the package raises bare Exception, e.g. for an answer whose signature fails
            logger.error("WeChat Pay answer refused: %s", error)
            raise ProviderUnavailable(f"WeChat Pay answer refused: {error}") from error
        try:
            data = json.loads(message) if message else {}
        except (TypeError, ValueError):
            data = {}
        return status, data if isinstance(data, dict) else {}

    # --- paying ---------------------------------------------------------------------------------------------------
    def checkout(self, *, order) -> dict:
        openid = account_selectors.wechat_openid(user=order.buyer, appid=self.appid)
        if not openid:
            raise BusinessRuleViolation(_("log in with WeChat before paying with WeChat Pay"),
                                        code="wechat_openid_missing")
        deadline = timezone.localtime(order.pay_deadline).isoformat(timespec="seconds")
        try:
            status, data = self._call(self.client.pay, description=f"{order.store.name} 订单 {order.number}"[
                :DESCRIPTION_MAX], out_trade_no=order.number, amount={"total": fen(order.total),
                                                                      "currency": CURRENCY},
                payer={"openid": openid}, time_expire=deadline, pay_type=WeChatPayType.MINIPROG)
        except ProviderUnavailable as error:
            raise ServiceUnavailable(_("the payment provider cannot be reached; try again shortly"),
                                     code="payment_provider_unavailable", detail={"provider": self.name}) from error
        prepay_id = data.get("prepay_id")
        if status == 200 and isinstance(prepay_id, str) and prepay_id:
            return {"provider": self.name, "order_number": order.number, "amount": str(order.total),
                    "currency": order.currency, "pay_deadline": order.pay_deadline.isoformat(),
                    "appid": self.appid, "request_payment": self.request_payment(prepay_id=prepay_id)}
        provider_code = str(data.get("code", ""))[:64]
        if provider_code in NOT_PAYABLE_ERRORS:
            raise Conflict(_("the payment provider says this order cannot be paid any more"),
                           code="order_not_payable", detail={"provider_code": provider_code})
        logger.error("WeChat Pay prepay of %s refused: %s %s", order.number, status, str(data)[:300])
        raise ServiceUnavailable(_("the payment provider refused to start the payment; try again shortly"),
                                 code="payment_provider_error",
                                 detail={"provider": self.name, "provider_code": provider_code})

    def request_payment(self, *, prepay_id: str) -> dict:
        """The object wx.requestPayment takes, signed with the merchant key over appId, timeStamp, nonceStr and
        package (each followed by a line break)."""
        time_stamp, nonce = str(int(time.time())), secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        return {"timeStamp": time_stamp, "nonceStr": nonce, "package": package, "signType": "RSA",
                "paySign": self.client.sign([self.appid, time_stamp, nonce, package])}

    # --- notices --------------------------------------------------------------------------------------------------
    def parse_notice(self, *, body: bytes, headers: Mapping[str, str]) -> PaymentNotice:
        signature, timestamp, nonce, serial = (str(headers.get(name, "")) for name in NOTICE_HEADERS)
        public_key, _pem, key_id = self.platform_key
        invalid = NotAuthenticated(_("invalid callback signature"), code="signature_invalid")
        if not (signature and timestamp and nonce and serial):
            raise invalid
        if serial != key_id or headers.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise invalid
        if not TIMESTAMP.fullmatch(timestamp) or abs(time.time() - int(timestamp)) > self.notice_max_age:
            raise NotAuthenticated(_("the notice is too old, or from the future"), code="notice_stale")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValidationFailed(_("malformed callback"), code="callback_malformed") from error
        signed = {"Wechatpay-Signature": signature, "Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
                  "Wechatpay-Serial": serial, "Wechatpay-Signature-Type": SIGNATURE_TYPE}
        try:
            data = self.client.callback(headers=signed, body=text)
        except Exception as error:  # the package raises bare Exception, ValueError, AttributeError on odd bodies
            raise ValidationFailed(_("malformed callback"), code="callback_malformed") from error
        if data is None:
            # Either the signature or the decryption failed: say which.
            if not rsa_verify(timestamp, nonce, text, signature, public_key):
                raise invalid
            raise ValidationFailed(_("the notice cannot be decrypted with our APIv3 key"),
                                   code="callback_undecryptable")
        try:
            data_vet(data=data)
        except DomainError as error:
            raise ValidationFailed(_("malformed callback"), code="callback_malformed") from error
        resource = data.get("resource")
        if data.get("event_type") != PAID_EVENT or not isinstance(resource, dict):
            raise NoticeIgnored(str(data.get("event_type"))[:64])
        try:
            notice = self._transaction_notice(resource)
        except ValueError as error:
            raise ValidationFailed(_("malformed callback"), code="callback_malformed") from error
        if notice is None:
            raise NoticeIgnored(str(resource.get("trade_state"))[:32])
        return notice

    def _transaction_notice(self, data: dict) -> PaymentNotice | None:
        """A transaction (a notice's resource, a query's answer) as a PaymentNotice; None unless it succeeded.
        ValueError when it is malformed or for another merchant or app."""
        if data.get("mchid") != self.mchid or data.get("appid") != self.appid:
            raise ValueError("transaction of another merchant or app")
        if data.get("trade_state") != "SUCCESS":
            return None
        amount, number, transaction_id = data.get("amount"), data.get("out_trade_no"), data.get("transaction_id")
        total = amount.get("total") if isinstance(amount, dict) else None
        if (not isinstance(total, int) or isinstance(total, bool) or total < 0
                or amount.get("currency", CURRENCY) != CURRENCY
                or not isinstance(number, str) or not 0 < len(number) <= 32
                or not isinstance(transaction_id, str) or not 0 < len(transaction_id) <= 64):
            raise ValueError("malformed transaction")
        return PaymentNotice(provider=self.name, order_number=number, transaction_id=transaction_id,
                             amount=yuan_from_fen(total))

    # --- asking ---------------------------------------------------------------------------------------------------
    def query(self, *, order_number: str) -> PaymentNotice | None:
        status, data = self._call(self.client.query, out_trade_no=order_number)
        if status == 404:
            return None  # ORDER_NOT_EXIST: never prepaid with us
        if status != 200:
            raise ProviderUnavailable(f"WeChat Pay query answered {status}: {data.get('code', '')}")
        try:
            return self._transaction_notice(data)
        except ValueError as error:
            raise ProviderUnavailable(f"WeChat Pay query answer unreadable: {error}") from error

    # --- refunds --------------------------------------------------------------------------------------------------
    def refund(self, *, transaction_id: str, amount: Decimal, total: Decimal, reference: str) -> str:
        status, data = self._call(self.client.refund, out_refund_no=out_refund_no(reference),
                                  amount={"refund": fen(amount), "total": fen(total), "currency": CURRENCY},
                                  transaction_id=transaction_id)
        if status == 200:
            refund_id, state = data.get("refund_id"), data.get("status")
            if state in ("SUCCESS", "PROCESSING") and isinstance(refund_id, str) and refund_id:
                return refund_id
            if state in ("ABNORMAL", "CLOSED"):
                raise RefundDeclined(f"WeChat Pay refund {state}")
            raise ProviderUnavailable(f"WeChat Pay refund answer unreadable: {str(data)[:200]}")
        provider_code, message = str(data.get("code", "")), str(data.get("message", ""))
        if status == 429 or status >= 500 or provider_code in TEMPORARY_ERRORS:
            raise ProviderUnavailable(f"WeChat Pay refund {status} {provider_code}: {message}"[:500])
        raise RefundDeclined(f"{provider_code or status}: {message}"[:500])
