"""Mall-wide search on the demo catalogue: latency over HTTP and relevance against the judged queries.

- relevance: every query of bench/search_relevance.json (Chinese, English, typos, plurals, multi-word; the products
  that must come first were judged from the catalogue's titles) is sent to GET /api/v1/search; the first page's
  products are compared with the judged stock codes: mean Recall@10 and NDCG@10 (supply/relevance.py), per kind.
- latency: the same queries, one client, request after request, against the gunicorn server of bench/server.py
  (`make run`'s setup, debug off): p50 and p95 of the whole request, JSON read included, after a warm-up round.
"""
import json
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

from bench.load import percentile
from bench.server import production_server

RELEVANCE_SET = Path(__file__).resolve().with_name("search_relevance.json")
ROUNDS = 4


def _search(base: str, query: str) -> tuple[list[int], float]:
    url = f"{base}/api/v1/search?{urllib.parse.urlencode({'q': query})}"
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own server)
        page = json.loads(response.read())
    return [row["id"] for row in page["results"]], time.perf_counter() - started


def run() -> None:
    from supply.models import SKU
    from supply.relevance import relevance_evaluate

    judgements = json.loads(RELEVANCE_SET.read_text(encoding="utf-8"))["queries"]
    codes = dict(SKU.objects.values_list("product_id", "code"))
    timings: list[float] = []
    with production_server() as base:
        ranked = {}
        for judged in judgements:  # warm-up round, and the rankings judged below
            ids, _seconds = _search(base, judged["query"])
            ranked[judged["query"]] = [codes[product_id] for product_id in ids]
        for _round in range(ROUNDS):
            for judged in judgements:
                timings.append(_search(base, judged["query"])[1])
    report = relevance_evaluate(judgements=judgements, search=ranked.__getitem__)
    by_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for judged in judgements:
        by_kind[judged["kind"]].append(report.per_query[judged["query"]])
    for kind, values in sorted(by_kind.items()):
        print(f"{kind:8s} {len(values):2d} queries: Recall@10 {sum(v[0] for v in values) / len(values):.3f}, "
              f"NDCG@10 {sum(v[1] for v in values) / len(values):.3f}")
    weakest = sorted(report.per_query.items(), key=lambda item: item[1][1])[:5]
    print("weakest: " + ", ".join(f"{query!r} {ndcg:.2f}" for query, (_recall, ndcg) in weakest))
    p50, p95 = percentile(timings, 0.5) * 1000, percentile(timings, 0.95) * 1000
    print(f"latency: {len(timings)} requests ({len(judgements)} queries x {ROUNDS}), p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms, max {max(timings) * 1000:.1f} ms")
    print(f"BENCH search p50_ms={p50:.0f} p95_ms={p95:.0f} recall10={report.recall:.3f} ndcg10={report.ndcg:.3f}")
