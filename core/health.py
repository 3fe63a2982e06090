"""GET /healthz: every registered probe, run in parallel under one deadline, so the answer comes within
HEALTH_TIMEOUT_SECONDS (2 s) whatever is down. 200 only when all answer; 503 names the ones that failed.

The kernel probes the database and the broker; each app registers probes of its own parts (cards: the share graph)
with `probe_register` from its AppConfig.ready, so core knows no domain.
"""
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

import redis
from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

Probe = Callable[[], None]
_probes: dict[str, Probe] = {}
# Probes run on their own threads: a probe stuck on a dead server must not hold the request past its deadline.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="healthz")


def probe_register(name: str, probe: Probe) -> None:
    """A probe raises when its part is down and returns when it is up; it should give up within the deadline."""
    _probes[name] = probe


def probes() -> dict[str, Probe]:
    return dict(_probes)


def _timed(probe: Probe) -> dict:
    started = time.perf_counter()
    try:
        probe()
    except Exception as error:  # a health check reports every failure, it never raises
        return {"status": "error", "error": f"{type(error).__name__}: {error}"[:300]}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> None:
    # Its own short-lived connection per probe thread, with a statement timeout, closed afterwards.
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 1500")
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def _broker() -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1.5, socket_connect_timeout=1.5)
    try:
        if not client.ping():
            raise ConnectionError("PING was not answered")
    finally:
        client.close()


probe_register("database", _database)
probe_register("broker", _broker)


def health_report(*, timeout: float | None = None) -> tuple[bool, dict]:
    timeout = settings.HEALTH_TIMEOUT_SECONDS if timeout is None else timeout
    futures = {name: _executor.submit(_timed, probe) for name, probe in _probes.items()}
    wait(futures.values(), timeout=timeout)
    report = {}
    for name, future in futures.items():
        if future.done():
            report[name] = future.result()
        else:
            future.cancel()
            report[name] = {"status": "error", "error": f"no answer within {timeout:.1f} s"}
    healthy = all(part["status"] == "ok" for part in report.values())
    return healthy, report


@never_cache
@require_GET
def healthz(request):
    healthy, report = health_report()
    body = {**report, "status": "ok" if healthy else "error"}
    if not healthy:
        body["failed"] = [name for name, part in report.items() if part["status"] != "ok"]
    return JsonResponse(body, status=200 if healthy else 503)
