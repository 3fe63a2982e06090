"""Payment providers behind one interface. The mall ships the simulated gateway (dev and demo); a real provider
(WeChat Pay, Alipay) implements the same four methods and is listed in settings.PAYMENT_PROVIDERS."""
import hashlib
import hmac
import json
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from core.errors import NotAuthenticated, NotFound, ValidationFailed
from core.money import to_money


@dataclass(frozen=True)
class PaymentNotice:
    """A provider's verified "this order was paid" message."""

    provider: str
    order_number: str
    transaction_id: str
    amount: Decimal


class PaymentProvider(ABC):
    name: str

    @abstractmethod
    def checkout(self, *, order) -> dict:
        """What the client needs to pay the order with this provider."""

    @abstractmethod
    def parse_notice(self, *, body: bytes, signature: str) -> PaymentNotice:
        """Verify and read a callback. Raises a domain error for a bad signature or a malformed body."""

    @abstractmethod
    def refund(self, *, transaction_id: str, amount: Decimal, reference: str) -> str:
        """Send `amount` of a payment back; returns the provider's refund id. Idempotent on `reference`."""


class SimulatedGateway(PaymentProvider):
    """Takes any order's money at once and notifies us like a real gateway: a JSON body signed with HMAC-SHA256."""

    name = "simulated"

    def __init__(self, secret: str | None = None):
        self.secret = secret or settings.PAYMENT_SIMULATED_SECRET

    def sign(self, body: bytes) -> str:
        return hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def checkout(self, *, order) -> dict:
        return {"provider": self.name, "order_number": order.number, "amount": str(order.total),
                "currency": order.currency, "pay_deadline": order.pay_deadline.isoformat(),
                "pay_url": f"/api/v1/orders/{order.pk}/simulated-pay"}

    def paid_notice(self, *, order) -> tuple[bytes, str]:
        """The signed callback the gateway sends once the shopper has paid."""
        body = json.dumps({"order_number": order.number, "transaction_id": f"sim-{secrets.token_hex(12)}",
                           "amount": str(order.total), "status": "paid"}).encode()
        return body, self.sign(body)

    def parse_notice(self, *, body: bytes, signature: str) -> PaymentNotice:
        if not signature or not hmac.compare_digest(self.sign(body), signature):
            raise NotAuthenticated("支付回调签名无效 (invalid callback signature)", code="signature_invalid")
        try:
            data = json.loads(body)
            notice = PaymentNotice(provider=self.name, order_number=str(data["order_number"]),
                                   transaction_id=str(data["transaction_id"]), amount=to_money(str(data["amount"])))
        except (ValueError, KeyError, TypeError, InvalidOperation) as error:
            raise ValidationFailed("支付回调内容无效 (malformed callback)", code="callback_malformed") from error
        if not notice.transaction_id or len(notice.transaction_id) > 64:
            raise ValidationFailed("交易号无效 (invalid transaction id)", code="callback_malformed")
        return notice

    def refund(self, *, transaction_id: str, amount: Decimal, reference: str) -> str:
        return f"sim-refund-{hashlib.sha256(reference.encode()).hexdigest()[:16]}"


@cache
def _providers() -> dict[str, PaymentProvider]:
    providers = [import_string(path)() for path in settings.PAYMENT_PROVIDERS]
    return {provider.name: provider for provider in providers}


def provider_get(name: str) -> PaymentProvider:
    provider = _providers().get(name)
    if provider is None:
        raise NotFound("不支持的支付渠道 (unknown payment provider)", code="provider_unknown")
    return provider
