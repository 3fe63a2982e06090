"""The business cards under load, served like production, in one run:

1. bare: GET /bench/bare (a Django view answering 204) on the gunicorn server of `make run`: the baseline;
2. visits: POST /api/v1/cards/track as the H5 page sends it (bench/load.py `scenario_track`: view_card through a
   share link, two view_product, leave; a new anonymous visitor per opening); every answered request must be a
   `card_action` row. The ratio of the BENCH line is this rate against the bare view's;
3. the same load again with the visit consumer (`cards.visits`) and the graph projection (`cards.graph`) running
   beside it in processes of their own, as the worker runs them (on this one machine they take their share of the
   two cores from the web server); its rate is printed too. The projection lag under that load: a probe opens a
   card through a share as a new visitor every second and times the REFERRED edge to that visitor appearing in the
   graph (tracking event -> visit consumer -> referral event -> graph consumer -> graph): end to end, as a rep's
   graph view would see it. The consumers' own lag (core.events.consumer_lag) is sampled too;
4. the depth-3 propagation tree through our query layer against a PostgreSQL recursive CTE, for a card with
   100,000 shares: `bench.cards_graph.tree_bench()` (written with the graph analytics).
"""
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid

from bench.load import Client, load_run, percentile
from bench.server import PROJECT_ROOT, production_server

CLIENTS = 16
DURATION = 15.0
WARM_UP = 3.0
PROBE_EVERY = 1.0
PROBE_TIMEOUT = 30.0


def _consumer(name: str, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.consumer_loop", name, str(seconds)], cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, text=True)


def _report(process: subprocess.Popen) -> dict:
    """The consumer loop's JSON line; a consumer that failed (its error is on stderr) reports nothing handled."""
    output = process.communicate(timeout=300)[0].strip().splitlines()
    try:
        return json.loads(output[-1])
    except (IndexError, json.JSONDecodeError):
        return {"handled": 0, "seconds": 0.0, "lags": [], "failed": True}


class _LagProbe(threading.Thread):
    """Every PROBE_EVERY seconds a new visitor opens a card through a share; the time until the graph holds their
    REFERRED edge is one lag sample. Probes do not wait for each other; after `stop`, the ones still on their way
    are waited for (up to PROBE_TIMEOUT each), so a long lag is measured, not dropped."""

    def __init__(self, *, base: str, shares: list[tuple[str, int]], run_id: str):
        super().__init__(daemon=True)
        self.base, self.shares, self.run_id = base, shares, run_id
        self.stop = threading.Event()
        self.lags: list[float] = []
        self.missing = 0
        self.error = ""

    def run(self) -> None:
        from cards.graph import graph_backend

        client = Client(self.base)
        waiting: dict[str, float] = {}  # visitor key -> when its opening was answered
        number, next_probe = 0, time.monotonic()
        with graph_backend() as graph:
            while not (self.stop.is_set() and not waiting):
                now = time.monotonic()
                if not self.stop.is_set() and not self.error and now >= next_probe:
                    number += 1
                    next_probe += PROBE_EVERY
                    share_id, _card_id = self.shares[number % len(self.shares)]
                    visitor = f"probe-{self.run_id}-{number}"
                    try:
                        status, _ = client.request("POST", "/api/v1/cards/track", json.dumps(
                            {"visit_id": visitor, "action": "view_card", "share_id": share_id}).encode(),
                            headers={"X-Visitor-Id": visitor})
                    except OSError as error:
                        status, self.error = 0, f"{type(error).__name__}: {error}"
                    if status == 204:
                        waiting[f"v:{visitor}"] = now
                    elif not self.error:
                        self.error = f"probe answered {status}"
                if waiting:
                    found = graph.run("MATCH (:Person)-[:REFERRED]->(v:Person) WHERE v.key IN $keys "
                                      "RETURN DISTINCT v.key AS key", {"keys": list(waiting)})
                    seen = time.monotonic()
                    for row in found:
                        self.lags.append(seen - waiting.pop(row["key"]))
                    for key, sent in list(waiting.items()):
                        if seen - sent > PROBE_TIMEOUT:
                            del waiting[key]
                            self.missing += 1
                time.sleep(0.05)


def _graph_rebuilt() -> None:
    """The graph projection of the history, rebuilt from PostgreSQL (cards/projection.py: graph_rebuild) rather than
    replayed event by event, and the graph consumer's cursor moved to where the rebuild read: what the bench
    measures is the projection of its own load. Events of transactions still running when the rebuild began stay
    ahead of the cursor and are projected again (MERGEs: nothing doubles)."""
    from django.db import connection

    from cards import projection
    from cards.events import GRAPH
    from core.events import POSITION_MAX
    from core.models import EventCursor

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        horizon = cursor.fetchone()[0]
    counts = projection.graph_rebuild()
    EventCursor.objects.update_or_create(consumer=GRAPH, defaults={"transaction_id": horizon - 1,
                                                                   "event_id": POSITION_MAX})
    print(f"{GRAPH}: graph rebuilt from PostgreSQL ({counts}) in {time.perf_counter() - started:.1f} s")


def _tree_figures() -> dict:
    try:
        from bench.cards_graph import tree_bench
    except ImportError:
        print("tree: bench/cards_graph.py is missing (the graph analytics bring it): no tree figures")
        return {}
    figures = tree_bench()
    print(f"tree (depth 3, 100,000 shares): ours p50 {figures['tree_p50_ms']:.1f} ms, p95 "
          f"{figures['tree_p95_ms']:.1f} ms; recursive CTE p50 {figures['cte_p50_ms']:.1f} ms, p95 "
          f"{figures['cte_p95_ms']:.1f} ms; speedup {figures['speedup']:.2f}x")
    return figures


def _figure(figures: dict, name: str, places: int = 1) -> str:
    value = figures.get(name)
    return f"{value:.{places}f}" if isinstance(value, int | float) else "n/a"


def run() -> dict:
    from cards.events import GRAPH, VISITS
    from cards.models import BusinessCard, CardFeaturedListing, Share
    from core.events import consumer_run
    from core.models import BehaviourEvent

    started = time.perf_counter()
    caught_up = consumer_run(name=VISITS)  # history first: the measured lag is the bench's own
    print(f"{VISITS}: caught up on {caught_up} earlier events in {time.perf_counter() - started:.1f} s")
    _graph_rebuilt()
    cards = list(BusinessCard.objects.filter(status=BusinessCard.Status.PUBLISHED).values_list("pk", flat=True))
    shares = list(Share.objects.filter(card_id__in=cards).order_by("created_at").values_list("pk", "card_id")[:500])
    listings = list(CardFeaturedListing.objects.filter(card_id__in=cards).values_list("listing_id", flat=True))
    if not shares or not listings:
        raise RuntimeError("no published card with shares: load_demo_cards first")
    run_id = uuid.uuid4().hex[:8]

    def states(prefix: str) -> list[dict]:
        return [{"visitor": f"{prefix}-{run_id}-{n}", "shares": [share for share, _card in shares],
                 "listings": listings} for n in range(CLIENTS)]

    with production_server() as base:
        load_run(base=base, scenario="get", states=[{"path": "/bench/bare"}] * CLIENTS, duration=WARM_UP)
        bare = load_run(base=base, scenario="get", states=[{"path": "/bench/bare"}] * CLIENTS, duration=DURATION)
        print(f"bare view: {bare.rate:.0f} req/s, p50 {percentile(bare.latencies, 0.5) * 1000:.1f} ms, "
              f"p95 {percentile(bare.latencies, 0.95) * 1000:.1f} ms, {bare.errors} errors")
        load_run(base=base, scenario="track", states=states("warm"), duration=WARM_UP)
        visits = load_run(base=base, scenario="track", states=states("bench"), duration=DURATION)
        # The same load again with the consumers running beside it (on this one machine: they take their share of
        # its two cores from the web server, where production runs them on worker machines).
        consumer_run(name=VISITS)
        _graph_rebuilt()
        consumers = {name: _consumer(name, DURATION + 8) for name in (VISITS, GRAPH)}
        probe = _LagProbe(base=base, shares=shares, run_id=run_id)
        probe.start()
        loaded = load_run(base=base, scenario="track", states=states("load"), duration=DURATION)
        probe.stop.set()
        probe.join(PROBE_TIMEOUT + 5)
        under_load = {name: _report(process) for name, process in consumers.items()}
    persisted = BehaviourEvent.objects.filter(kind="card_action", visitor_id__startswith=f"bench-{run_id}-").count()
    persisted_loaded = BehaviourEvent.objects.filter(kind="card_action",
                                                     visitor_id__startswith=f"load-{run_id}-").count()
    for label, result, stored in (("tracking endpoint", visits, persisted),
                                  ("tracking endpoint, consumers running", loaded, persisted_loaded)):
        print(f"{label}: {result.rate:.0f} visits/s (events), p50 {percentile(result.latencies, 0.5) * 1000:.1f} ms, "
              f"p95 {percentile(result.latencies, 0.95) * 1000:.1f} ms, {result.errors} errors"
              f"{' (' + result.first_error + ')' if result.errors else ''}; {stored} of {result.operations} answered "
              f"events persisted; {result.rate / bare.rate if bare.rate else 0:.2f} of the bare view")
    for name, report in under_load.items():
        rate = report["handled"] / report["seconds"] if report["seconds"] else 0.0
        failed = (f", {report['failures']} runs failed (last: {report['last_error']})" if report.get("failures")
                  else "")
        print(f"consumer {name} under load: {report['handled']} events in {report['seconds']:.1f} s "
              f"({rate:.0f} events/s), its lag max {max(report['lags'] or [0.0]):.2f} s{failed}"
              + (" (it FAILED: see its error above)" if report.get("failed") else ""))
    lags = probe.lags
    # A probe not seen within PROBE_TIMEOUT took at least that long: the lag is never reported below it.
    lag = max([*lags, *([PROBE_TIMEOUT] if probe.missing else [])]) if lags or probe.missing else float("inf")
    print(f"projection lag (tracking request -> REFERRED edge in the graph), {len(lags)} probes, {probe.missing} "
          f"not seen within {PROBE_TIMEOUT:.0f} s: p50 {statistics.median(lags) if lags else 0:.2f} s, "
          f"max {lag:.2f} s{'; probe stopped: ' + probe.error if probe.error else ''}")
    figures = _tree_figures()
    ratio = visits.rate / bare.rate if bare.rate else 0.0
    assert persisted == visits.operations and persisted_loaded == loaded.operations, "an answered visit was lost"
    print(f"BENCH cards bare_rps={bare.rate:.0f} visit_rps={visits.rate:.0f} ratio={ratio:.2f} persisted={persisted} "
          f"sent={visits.operations} lag_s={lag:.2f} tree_p95_ms={_figure(figures, 'tree_p95_ms')} "
          f"cte_p95_ms={_figure(figures, 'cte_p95_ms')} speedup={_figure(figures, 'speedup', 2)}")
    return {"bare_rps": bare.rate, "visit_rps": visits.rate, "ratio": ratio, "lag_s": lag, **figures}
