"""Relevance measures of a search: Recall@k and NDCG@k with binary gains. Pure functions over ranked ids.

A ranking may name the same product more than once (a search that returns listings of several stores): only its
first place counts, later ones gain nothing, as a shopper who already saw it gains nothing either."""
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


def recall_at_k(ranked: Sequence, relevant: Iterable, k: int = 10) -> float:
    """Relevant items among the first k / min(k, number of relevant items): 1.0 when the top k is as full of
    relevant items as it can be (a query with 60 right answers cannot show more than k of them)."""
    wanted = set(relevant)
    if not wanted:
        raise ValueError("a judged query needs at least one relevant item")
    found = {item for item in ranked[:k] if item in wanted}
    return len(found) / min(k, len(wanted))


def ndcg_at_k(ranked: Sequence, relevant: Iterable, k: int = 10) -> float:
    """DCG of the first k places (gain 1 for a relevant item's first place, discount log2(position + 1)) over the
    DCG of the ideal ranking (min(k, relevant) relevant items first)."""
    wanted = set(relevant)
    if not wanted:
        raise ValueError("a judged query needs at least one relevant item")
    seen = set()
    dcg = 0.0
    for position, item in enumerate(ranked[:k], 1):
        if item in wanted and item not in seen:
            dcg += 1 / math.log2(position + 1)
        seen.add(item)
    ideal = sum(1 / math.log2(position + 1) for position in range(1, min(k, len(wanted)) + 1))
    return dcg / ideal


@dataclass(frozen=True)
class RelevanceReport:
    recall: float  # mean Recall@k over the queries
    ndcg: float  # mean NDCG@k
    per_query: dict[str, tuple[float, float]]  # query -> (recall, ndcg)


def relevance_evaluate(*, judgements: Sequence[dict], search: Callable[[str], Sequence], k: int = 10
                       ) -> RelevanceReport:
    """Run `search(query)` (ranked ids) for every judged query ({"query", "stock_codes"}) and average the measures."""
    per_query = {}
    for judged in judgements:
        ranked = list(search(judged["query"]))
        per_query[judged["query"]] = (recall_at_k(ranked, judged["stock_codes"], k),
                                      ndcg_at_k(ranked, judged["stock_codes"], k))
    count = len(per_query) or 1
    return RelevanceReport(recall=sum(value[0] for value in per_query.values()) / count,
                           ndcg=sum(value[1] for value in per_query.values()) / count, per_query=per_query)
