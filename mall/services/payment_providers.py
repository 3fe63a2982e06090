"""Payment providers behind one interface, enabled by settings.PAYMENT_PROVIDERS (dotted class paths).

The mall ships the simulated gateway for development and the demo. It is enabled only when debugging or when
PAYMENT_PROVIDERS names it, and outside debug it has no default secret: start-up (`providers_check`, called by
MallConfig.ready) refuses an enabled provider that lacks its keys. A provider that is not enabled does not exist
for the API: its callback and its pay endpoint answer 404. WeChat Pay API v3 (mall/services/wechat_pay.py)
implements the same methods; so would Alipay.

A callback reaches `parse_notice` as the raw body and the request's headers (names in lower case): each provider
signs its notices its own way (the simulated gateway: HMAC in `X-Signature`; WeChat Pay: RSA over timestamp, nonce
and body in the `Wechatpay-*` headers, the resource encrypted with the APIv3 key).
"""
import hashlib
import hmac
import json
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, NotAuthenticated, NotFound, ValidationFailed
from core.money import to_money
from core.parsers import data_vet
from core.signatures import signature_matches


@dataclass(frozen=True)
class PaymentNotice:
    """A provider's verified "this order was paid" message."""

    provider: str
    order_number: str
    transaction_id: str
    amount: Decimal


class RefundDeclined(Exception):
    """The provider refuses the refund for good (the payment is too old, the merchant account lacks funds...)."""


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with a temporary error: try again later."""


class NoticeIgnored(Exception):
    """A genuine (verified) notice that pays nothing: a refund's notice, a transaction that did not succeed. The
    provider is told it was received, and nothing changes."""


class PaymentProvider(ABC):
    name: str

    def check_configured(self) -> None:  # noqa: B027  (most providers need nothing beyond their constructor)
        """Raise ImproperlyConfigured when the provider lacks a key or a setting it needs."""

    @abstractmethod
    def checkout(self, *, order) -> dict:
        """What the client needs to pay the order with this provider."""

    @abstractmethod
    def parse_notice(self, *, body: bytes, headers: Mapping[str, str]) -> PaymentNotice:
        """Verify and read a callback (`headers` with lower-case names). Raises a domain error for a bad signature
        or a malformed body, NoticeIgnored for a genuine notice that pays nothing."""

    def query(self, *, order_number: str) -> PaymentNotice | None:
        """Ask the provider whether the order was paid (its callback may never have come): the payment as a notice,
        or None when it holds no successful payment for the order. Raises ProviderUnavailable. Called outside any
        transaction. A provider that notifies synchronously has nothing to ask: None."""
        return None

    @abstractmethod
    def refund(self, *, transaction_id: str, amount: Decimal, total: Decimal, reference: str) -> str:
        """Send `amount` of a payment of `total` back; returns the provider's refund id. Idempotent on `reference`.
        Raises RefundDeclined (for good) or ProviderUnavailable (try later). Called outside any transaction."""


SIGNATURE_HEADER = "x-signature"


class SimulatedGateway(PaymentProvider):
    """Takes any order's money at once and notifies us like a real gateway: a JSON body signed with HMAC-SHA256."""

    name = "simulated"

    def __init__(self, secret: str | None = None):
        self.secret = secret if secret is not None else settings.PAYMENT_SIMULATED_SECRET

    def check_configured(self) -> None:
        if not self.secret:
            raise ImproperlyConfigured(
                "The simulated payment gateway is enabled (PAYMENT_PROVIDERS) but PAYMENT_SIMULATED_SECRET is empty. "
                "Outside debug there is no default: set a long random PAYMENT_SIMULATED_SECRET, or remove the "
                "simulated gateway from PAYMENT_PROVIDERS (it lets anyone who knows the secret mark orders paid).")

    def sign(self, body: bytes) -> str:
        return hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def checkout(self, *, order) -> dict:
        return {"provider": self.name, "order_number": order.number, "amount": str(order.total),
                "currency": order.currency, "pay_deadline": order.pay_deadline.isoformat(),
                "pay_url": f"/api/v1/orders/{order.pk}/simulated-pay"}

    def paid_notice(self, *, order, transaction_id: str | None = None) -> tuple[bytes, dict[str, str]]:
        """The signed callback (body, headers) the gateway sends once the shopper has paid."""
        body = json.dumps({"order_number": order.number,
                           "transaction_id": transaction_id or f"sim-{secrets.token_hex(12)}",
                           "amount": str(order.total), "status": "paid"}).encode()
        return body, {SIGNATURE_HEADER: self.sign(body)}

    def parse_notice(self, *, body: bytes, headers: Mapping[str, str]) -> PaymentNotice:
        if not signature_matches(self.sign(body), headers.get(SIGNATURE_HEADER, "")):
            raise NotAuthenticated(_("invalid callback signature"), code="signature_invalid")
        try:
            data = json.loads(body)
            data_vet(data=data)
            notice = PaymentNotice(provider=self.name, order_number=str(data["order_number"]),
                                   transaction_id=str(data["transaction_id"]), amount=to_money(str(data["amount"])))
        except (ValueError, KeyError, TypeError, InvalidOperation, RecursionError, DomainError) as error:
            raise ValidationFailed(_("malformed callback"), code="callback_malformed") from error
        if not notice.transaction_id or len(notice.transaction_id) > 64 or len(notice.order_number) > 32:
            raise ValidationFailed(_("invalid transaction id"), code="callback_malformed")
        return notice

    def refund(self, *, transaction_id: str, amount: Decimal, total: Decimal, reference: str) -> str:
        return f"sim-refund-{hashlib.sha256(reference.encode()).hexdigest()[:16]}"


@cache
def _providers() -> dict[str, PaymentProvider]:
    providers = [import_string(path)() for path in settings.PAYMENT_PROVIDERS]
    return {provider.name: provider for provider in providers}


def _forget_providers(*, setting: str, **kwargs) -> None:
    if setting in ("PAYMENT_PROVIDERS", "PAYMENT_SIMULATED_SECRET", "DEBUG") or setting.startswith("WECHATPAY_"):
        _providers.cache_clear()


setting_changed.connect(_forget_providers)


def providers_check() -> None:
    """Start-up: every enabled provider has what it needs, or the process refuses to start."""
    for provider in _providers().values():
        provider.check_configured()


def providers_enabled() -> list[PaymentProvider]:
    """The enabled providers, in the order PAYMENT_PROVIDERS names them."""
    return list(_providers().values())


def provider_enabled(name: str) -> bool:
    return name in _providers()


def provider_get(name: str) -> PaymentProvider:
    provider = _providers().get(name)
    if provider is None:
        raise NotFound(_("unknown payment provider"), code="provider_unknown")
    return provider
