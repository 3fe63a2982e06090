"""Payment providers for the tests: the simulated gateway's protocol, with a refund side that declines, cannot be
reached, or records how it was called. Enabled per test through settings.PAYMENT_PROVIDERS, like any provider."""
from django.db import connection

from mall.services.payment_providers import ProviderUnavailable, RefundDeclined, SimulatedGateway


class DecliningGateway(SimulatedGateway):
    name = "declining"
    declines = True

    def refund(self, *, transaction_id, amount, total, reference):
        if type(self).declines:
            raise RefundDeclined("商户余额不足 merchant balance too low")
        return super().refund(transaction_id=transaction_id, amount=amount, total=total, reference=reference)


class UnreachableGateway(SimulatedGateway):
    name = "unreachable"

    def refund(self, *, transaction_id, amount, total, reference):
        raise ProviderUnavailable("connect timeout")


class RecordingGateway(SimulatedGateway):
    """Records, for each refund call, whether a database transaction was open at that moment."""

    name = "recording"
    calls: list[dict] = []

    def refund(self, *, transaction_id, amount, total, reference):
        type(self).calls.append({"reference": reference, "in_transaction": connection.in_atomic_block})
        return super().refund(transaction_id=transaction_id, amount=amount, total=total, reference=reference)
