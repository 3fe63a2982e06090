"""Concurrent checkout on the demo data, and listing search/detail latency.

- checkout: THREADS shoppers (demo customers) each submit and pay orders of 1-3 random demo listings for
  DURATION seconds through the services (the same code the API calls); prints orders per second and latency.
- search/detail: p50/p95 of GET /api/v1/listings?q=... (Chinese and English queries) and GET /api/v1/listings/<id>
  through Django's test client (full request/response cycle, no network).
"""
import random
import statistics
import threading
import time
import uuid

from django.db import connection
from django.test import Client

THREADS = 8
DURATION = 20.0
SEARCH_QUERIES = ["heart", "蜡烛", "christmas", "杯子", "bag", "复古", "cake stand", "爱心 挂饰", "lunch box",
                  "圣诞", "vintage", "玩具", "garden", "灯", "mug", "笔记本"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def checkout_bench() -> None:
    from mall.models import Address, Listing
    from mall.services import orders, payments
    from supply.models import Stock

    listing_ids = list(Listing.objects.filter(status="active", store_id=Listing.objects.order_by("store_id")
                                              .values("store_id")[:1]).values_list("pk", flat=True))
    Stock.objects.filter(sku__listings__pk__in=listing_ids).update(available=1_000_000)
    addresses = list(Address.objects.filter(is_default=True).select_related("user")[:2000])
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + DURATION

    def shopper(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while time.perf_counter() < deadline:
                address = rng.choice(addresses)
                lines = [{"listing_id": listing_id, "quantity": rng.randint(1, 3)}
                         for listing_id in rng.sample(listing_ids, rng.randint(1, 3))]
                started = time.perf_counter()
                try:
                    order, _ = orders.order_submit(buyer=address.user, lines=lines, address_id=address.pk,
                                                   idempotency_key=f"bench-{uuid.uuid4().hex}")
                    payments.simulated_gateway_pay(order=order)
                except Exception as error:  # counted, the bench goes on
                    with lock:
                        failures.append(f"{type(error).__name__}: {error}")
                    continue
                with lock:
                    latencies.append(time.perf_counter() - started)
        finally:
            connection.close()

    threads = [threading.Thread(target=shopper, args=(n,)) for n in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(f"checkout: {THREADS} threads, {elapsed:.1f} s, {len(latencies)} orders submitted and paid, "
          f"{len(failures)} failed")
    if latencies:
        print(f"checkout: {len(latencies) / elapsed:.1f} orders/s; submit+pay latency "
              f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms")
    if failures:
        print(f"checkout: first failure: {failures[0]}")


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
