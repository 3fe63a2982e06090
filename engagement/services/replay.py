"""Replaying the whole event log from scratch: the engine's rows are reset and its cursor goes back before the
first event (in one transaction, under the consumer's lock), then the consumer reads everything again. Decisions
depend only on the events and the rules, so the balances come out the same; `engagement_replay` prints both
fingerprints. While it catches up, balances are partial (spends are refused beyond what is rebuilt so far)."""
import hashlib
import time

from core.events import consumer_lag, consumer_rewind, consumer_run
from engagement.models import LedgerAccount
from engagement.services.engine import RULES, engine_state_reset


def balances_fingerprint() -> dict:
    """A digest of every account's balance and debt (sorted), with the row count and the totals."""
    digest = hashlib.sha256()
    count = balance = debt = 0
    for user_id, currency, account_balance, account_debt in LedgerAccount.objects.order_by(
            "user_id", "currency").values_list("user_id", "currency", "balance", "debt").iterator(chunk_size=5000):
        digest.update(f"{user_id}:{currency}:{account_balance}:{account_debt};".encode())
        count, balance, debt = count + 1, balance + account_balance, debt + account_debt
    return {"accounts": count, "balance": balance, "debt": debt, "sha256": digest.hexdigest()}


def engine_replay(*, wait_seconds: float = 0.5) -> dict:
    """Reset the engine and read the whole log again; returns the events read and the fingerprints before and
    after. Another process running the consumer meanwhile (beat) does part of the work: this waits until the
    consumer has caught up."""
    before = balances_fingerprint()
    consumer_rewind(name=RULES, reset=engine_state_reset)
    handled = 0
    while True:
        handled += consumer_run(name=RULES)
        if consumer_lag(name=RULES)["pending"] == 0:
            break
        time.sleep(wait_seconds)
    return {"events": handled, "before": before, "after": balances_fingerprint()}
