"""Django's PostgreSQL backend, with health checks that trust a connection in steady use.

With CONN_HEALTH_CHECKS Django sends `SELECT 1` before the first query of every request on a persistent connection:
a whole round trip, on every request that touches the database: half the round trips of a request that records
one behaviour event, one in fifteen of a checkout (bench/events.py, bench/checkout.py). What the check
guards against is a connection that died while it sat idle (a restarted server, a proxy or firewall that drops idle
sessions). This backend checks a connection when it has been idle for DATABASE_HEALTH_CHECK_IDLE_SECONDS or more, as
Django does, and trusts one that served a query more recently. A connection that fails anyway is dealt with the way
Django always does: the request's error marks it, and it is closed at the end of that request.
"""
import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    used_at = float("-inf")

    def create_cursor(self, name=None):
        self.used_at = time.monotonic()
        return super().create_cursor(name)

    def close_if_unusable_or_obsolete(self):
        super().close_if_unusable_or_obsolete()
        if (self.connection is not None and self.health_check_enabled and not self.errors_occurred
                and time.monotonic() - self.used_at < settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS):
            self.health_check_done = True
