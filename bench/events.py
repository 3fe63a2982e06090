"""Events per second through the behaviour-event spine, served like production, against a bare Django view.

1. bare: GET /bench/bare (a Django view answering 204) on the same gunicorn server: the baseline;
2. event: POST /bench/visit, a minimal DRF endpoint recording one `product_viewed` event for an anonymous visitor
   per request (autocommit, one INSERT); every answered request must have its row;
3. the kernel's batch consumer (event daily counts) runs in its own process during (2) and reports its lag; then
   a shorter load runs with no consumer at all, and the consumer drains the backlog it left: its throughput.
Both loads use the same closed-loop clients (bench/load.py) in processes of their own.
"""
import json
import subprocess
import sys
import time
import uuid

from bench.load import load_run, percentile
from bench.server import PROJECT_ROOT, production_server

CLIENTS = 16
DURATION = 15.0
WARM_UP = 3.0
BACKLOG = 6.0


def run() -> dict:
    from core.consumers import DAILY_COUNTS
    from core.events import consumer_lag, consumer_run
    from core.models import BehaviourEvent

    started = time.perf_counter()
    caught_up = consumer_run(name=DAILY_COUNTS)  # history first: the measured backlog is the bench's own
    print(f"consumer: caught up on {caught_up} earlier events in {time.perf_counter() - started:.1f} s")
    with production_server() as base:
        load_run(base=base, scenario="get", states=[{"path": "/bench/bare"}] * CLIENTS, duration=WARM_UP)
        bare = load_run(base=base, scenario="get", states=[{"path": "/bench/bare"}] * CLIENTS, duration=DURATION)
        print(f"bare view: {bare.rate:.0f} req/s, p50 {percentile(bare.latencies, 0.5) * 1000:.1f} ms, "
              f"p95 {percentile(bare.latencies, 0.95) * 1000:.1f} ms, {bare.errors} errors")
        load_run(base=base, scenario="visit", states=[{"visitor": f"warm-{uuid.uuid4().hex[:6]}-{n}"}
                                                      for n in range(CLIENTS)], duration=WARM_UP)
        consumer_run(name=DAILY_COUNTS)
        run_id = uuid.uuid4().hex[:8]
        consumer = subprocess.Popen([sys.executable, "-m", "bench.consumer_loop", DAILY_COUNTS, str(DURATION + 1)],
                                    cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
        event = load_run(base=base, scenario="visit",
                         states=[{"visitor": f"bench-{run_id}-{n}"} for n in range(CLIENTS)], duration=DURATION)
        under_load = json.loads(consumer.communicate(timeout=120)[0].strip().splitlines()[-1])
        backlog_load = load_run(base=base, scenario="visit", states=[{"visitor": f"backlog-{run_id}-{n}"}
                                                                     for n in range(CLIENTS)], duration=BACKLOG)
    persisted = BehaviourEvent.objects.filter(kind="product_viewed", visitor_id__startswith=f"bench-{run_id}-").count()
    print(f"event endpoint: {event.rate:.0f} req/s, p50 {percentile(event.latencies, 0.5) * 1000:.1f} ms, "
          f"p95 {percentile(event.latencies, 0.95) * 1000:.1f} ms, {event.errors} errors; "
          f"{persisted} of {event.operations} answered events persisted")
    backlog = consumer_lag(name=DAILY_COUNTS)["pending"]
    drain_started = time.perf_counter()
    drained = consumer_run(name=DAILY_COUNTS)
    drain_seconds = time.perf_counter() - drain_started
    lag = max(under_load["lags"] or [0.0])
    kept_up = under_load["handled"] / under_load["seconds"] if under_load["seconds"] else 0.0
    throughput = drained / drain_seconds if drained and drain_seconds else 0.0
    print(f"consumer under load: {under_load['handled']} events in {under_load['seconds']:.1f} s "
          f"({kept_up:.0f} events/s: as fast as they were written), lag max {lag:.2f} s")
    print(f"consumer throughput: a backlog of {backlog} events ({backlog_load.operations} written with no consumer "
          f"running) drained in {drain_seconds:.2f} s: {throughput:.0f} events/s")
    ratio = event.rate / bare.rate if bare.rate else 0.0
    assert persisted == event.operations, "an answered event was not persisted"
    print(f"BENCH events bare_rps={bare.rate:.0f} event_rps={event.rate:.0f} ratio={ratio:.2f} "
          f"consumer_eps={throughput:.0f} lag_s={lag:.2f}")
    return {"bare_rps": bare.rate, "event_rps": event.rate, "ratio": ratio}
