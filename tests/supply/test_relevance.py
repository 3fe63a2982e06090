"""Recall@k and NDCG@k (supply/relevance.py) on hand-computed cases."""
import json
import math
from pathlib import Path

import pytest

from supply.relevance import ndcg_at_k, recall_at_k, relevance_evaluate

RELEVANCE_SET = Path(__file__).resolve().parents[2] / "bench" / "search_relevance.json"


def test_recall_counts_distinct_relevant_items_in_the_top_k_against_what_could_fit():
    assert recall_at_k(["a", "x", "b"], {"a", "b"}) == 1.0
    assert recall_at_k(["x", "a"], {"a", "b", "c", "d"}) == 0.25
    assert recall_at_k(["a", "a", "a"], {"a", "b"}) == 0.5  # the same product twice is found once
    assert recall_at_k(["a", "b", "c"], {"c"}, k=2) == 0.0
    many = [f"p{n}" for n in range(30)]
    assert recall_at_k(many, set(many)) == 1.0  # 10 of 30 relevant is as full as a top 10 can be


def test_ndcg_discounts_by_position_and_normalises_by_the_ideal_ranking():
    assert ndcg_at_k(["a", "b"], {"a", "b"}) == 1.0
    # gains at positions 1 and 3: (1 + 1/log2 4) / (1 + 1/log2 3)
    assert ndcg_at_k(["a", "x", "b"], {"a", "b"}) == pytest.approx((1 + 0.5) / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["x", "a"], {"a"}) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["a", "a", "b"], {"a", "b"}) == pytest.approx((1 + 0.5) / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["x", "y"], {"a"}) == 0.0


def test_a_query_without_relevant_items_is_refused():
    with pytest.raises(ValueError):
        recall_at_k(["a"], set())
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], [])


def test_evaluate_averages_over_the_queries():
    judgements = [{"query": "one", "stock_codes": ["a"]}, {"query": "two", "stock_codes": ["b"]}]
    report = relevance_evaluate(judgements=judgements, search={"one": ["a"], "two": ["x"]}.get)
    assert (report.recall, report.ndcg) == (0.5, 0.5)
    assert report.per_query == {"one": (1.0, 1.0), "two": (0.0, 0.0)}


def test_the_committed_relevance_set_has_40_judged_queries_of_every_kind():
    queries = json.loads(RELEVANCE_SET.read_text(encoding="utf-8"))["queries"]
    assert len(queries) >= 40
    assert {"en", "zh", "typo", "plural"} <= {query["kind"] for query in queries}
    assert all(query["stock_codes"] and query["relevant"] for query in queries)
    assert len({query["query"] for query in queries}) == len(queries)
