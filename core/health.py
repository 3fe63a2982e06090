"""GET /healthz: database, broker and graph. 200 only when all three answer; 503 names the one that failed."""
import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _check(probe) -> dict:
    started = time.perf_counter()
    try:
        probe()
    except Exception as error:  # a health check reports every failure, it never raises
        return {"status": "error", "error": f"{type(error).__name__}: {error}"[:300]}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        if not client.ping():
            raise ConnectionError("PING was not answered")
    finally:
        client.close()


def _graph() -> None:
    # cards owns the share graph; the kernel only asks the port whether it answers.
    from cards.graph import graph_backend

    with graph_backend() as graph:
        report = graph.health()
    if not report["ok"]:
        raise ConnectionError(report.get("error", "graph unavailable"))


@never_cache
@require_GET
def healthz(request):
    report = {"database": _check(_database), "broker": _check(_broker), "graph": _check(_graph)}
    healthy = all(part["status"] == "ok" for part in report.values())
    report["status"] = "ok" if healthy else "error"
    if not healthy:
        report["failed"] = [name for name in ("database", "broker", "graph") if report[name]["status"] != "ok"]
    return JsonResponse(report, status=200 if healthy else 503)
