"""Checkout over HTTP against a production-configured server, and listing search/detail latency.

- checkout: 16 closed-loop clients (demo customers with their own API tokens) each submit an order of one or two
  demo listings (POST /api/v1/orders) and pay it (POST /api/v1/orders/<id>/simulated-pay, which sends the
  gateway's signed callback through the same code a provider's callback takes) against the gunicorn server of
  bench/server.py (`make run`'s setup, debug off), from processes of their own; orders per second and p50/p95 of
  submit + pay. In the same run and on the same server: the rate of a trivial GET, the smallest authenticated API
  request there is (GET /api/v1/me: token lookup, one row, a small JSON), so the ratio holds on a noisy machine.
- statements: SQL statements one 2-line submit and one pay run (tests/mall/test_statement_counts.py pins them).
- search/detail: p50/p95 of GET /api/v1/listings?q=... and GET /api/v1/listings/<id> in-process (test client).
"""
import random
import statistics
import time
import uuid

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.load import load_run, percentile
from bench.server import production_server

CLIENTS = 16
DURATION = 20.0
WARM_UP = 4.0
SEARCH_QUERIES = ["heart", "蜡烛", "christmas", "杯子", "bag", "复古", "cake stand", "爱心 挂饰", "lunch box",
                  "圣诞", "vintage", "玩具", "garden", "灯", "mug", "笔记本"]


def _shoppers(count: int) -> list[tuple[str, int]]:
    """(API access token, default address id) of `count` demo customers: a fresh login session each (its access
    token lives AUTH_ACCESS_TOKEN_TTL, 2 hours by default: far longer than a run)."""
    from accounts.models import AuthSession
    from accounts.tokens import auth_session_start
    from mall.models import Address

    addresses = list(Address.objects.filter(is_default=True, user__phone__startswith="199")
                     .select_related("user").order_by("pk")[:count])
    return [(auth_session_start(user=address.user, method=AuthSession.Method.OTHER, client="bench").access_token,
             address.pk) for address in addresses]


def _listings() -> list[int]:
    from mall.models import Listing
    from supply.models import Stock

    store_id = Listing.objects.order_by("store_id").values_list("store_id", flat=True).first()
    ids = list(Listing.objects.filter(status="active", store_id=store_id).order_by("pk").values_list("pk", flat=True))
    Stock.objects.filter(sku__listings__pk__in=ids).update(available=1_000_000)
    return ids


def statements_per_submit_and_pay(shopper: tuple[str, int], listings: list[int]) -> tuple[int, int]:
    """Count the SQL statements of one 2-line submit and its payment, in this process (same code, test client)."""
    client = Client(HTTP_AUTHORIZATION=f"Token {shopper[0]}")
    body = {"lines": [{"listing_id": listings[0], "quantity": 1}, {"listing_id": listings[1], "quantity": 2}],
            "address_id": shopper[1], "idempotency_key": f"count-{uuid.uuid4().hex}"}
    with CaptureQueriesContext(connection) as submit:
        response = client.post("/api/v1/orders", body, content_type="application/json")
    assert response.status_code == 201, response.content[:300]
    with CaptureQueriesContext(connection) as pay:
        response = client.post(f"/api/v1/orders/{response.json()['id']}/simulated-pay")
    assert response.status_code == 200, response.content[:300]
    return len(submit.captured_queries), len(pay.captured_queries)


def checkout_bench() -> dict:
    shoppers = _shoppers(CLIENTS)
    listings = _listings()
    submit_statements, pay_statements = statements_per_submit_and_pay(shoppers[0], listings)
    run = uuid.uuid4().hex[:8]
    states = [{"token": token, "address_id": address_id, "listings": listings, "seed": index, "run": run}
              for index, (token, address_id) in enumerate(shoppers)]
    with production_server() as base:
        me = [{"path": "/api/v1/me", "token": token} for token, _address in shoppers]
        load_run(base=base, scenario="get", states=me, duration=WARM_UP)
        trivial = load_run(base=base, scenario="get", states=me, duration=DURATION)
        load_run(base=base, scenario="checkout", states=[{**state, "run": f"warm-{run}"} for state in states],
                 duration=WARM_UP)
        checkout = load_run(base=base, scenario="checkout", states=states, duration=DURATION)
    ratio = checkout.rate / trivial.rate if trivial.rate else 0.0
    p50, p95 = percentile(checkout.latencies, 0.5) * 1000, percentile(checkout.latencies, 0.95) * 1000
    print(f"trivial GET: {trivial.rate:.0f} req/s ({trivial.errors} errors)")
    print(f"checkout: {CLIENTS} clients, {checkout.seconds:.1f} s, {checkout.operations} orders submitted and paid, "
          f"{checkout.errors} failed{': ' + checkout.first_error if checkout.errors else ''}")
    print(f"checkout: {checkout.rate:.1f} orders/s, submit+pay p50 {p50:.0f} ms, p95 {p95:.0f} ms; "
          f"statements: submit {submit_statements}, pay {pay_statements}")
    print(f"BENCH checkout orders_per_s={checkout.rate:.1f} trivial_rps={trivial.rate:.0f} ratio={ratio:.2f} "
          f"p50_ms={p50:.0f} p95_ms={p95:.0f} submit_statements={submit_statements} pay_statements={pay_statements}")
    return {"orders_per_s": checkout.rate, "trivial_rps": trivial.rate, "ratio": ratio}


def latency_bench() -> None:
    from mall.models import Listing

    client = Client()
    rng = random.Random(7)
    search_times, detail_times, hits = [], [], []
    for _ in range(3):  # warm-up
        client.get("/api/v1/listings", {"q": "heart"})
    for index in range(200):
        query = SEARCH_QUERIES[index % len(SEARCH_QUERIES)]
        started = time.perf_counter()
        response = client.get("/api/v1/listings", {"q": query})
        search_times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:200]
        hits.append(response.json()["count"])
    ids = list(Listing.objects.values_list("pk", flat=True)[:5000])
    for _ in range(300):
        started = time.perf_counter()
        response = client.get(f"/api/v1/listings/{rng.choice(ids)}")
        detail_times.append(time.perf_counter() - started)
        assert response.status_code in (200, 404)
    print(f"search: {len(search_times)} requests over {len(SEARCH_QUERIES)} queries (zh + en), "
          f"median {statistics.median(hits):.0f} hits: p50 {percentile(search_times, 0.5) * 1000:.1f} ms, "
          f"p95 {percentile(search_times, 0.95) * 1000:.1f} ms")
    print(f"detail: {len(detail_times)} requests: p50 {percentile(detail_times, 0.5) * 1000:.1f} ms, "
          f"p95 {percentile(detail_times, 0.95) * 1000:.1f} ms")


def run() -> None:
    latency_bench()
    checkout_bench()
