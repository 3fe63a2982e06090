"""Reads of the catalogue: ranked product search (PostgreSQL full text + pg_trgm), used by the storefront.

A query is matched in stages, the first that finds anything wins, so a query never dead-ends while a weaker
reading would still find products:
1. "all": every query term (English stem or jieba word, or one of its typo corrections) is in the product's vector;
2. "any": some term is (only for queries of two or more terms);
3. "characters": every Han character of the query is in the title (a Chinese word no title uses as a word);
4. "similar": the query is trigram-similar to part of the product's text (pg_trgm's `%>`, word_similarity above
   pg_trgm.word_similarity_threshold, 0.6).
Typos: an English query word of 3+ letters whose stem no product has is looked up in SearchWord by trigram
similarity (the `%` operator, GIN-indexed); the stems of up to three most similar words are searched as well
("christmass" -> christmas, "candel" -> candle). Ranking: ts_rank with the weights of supply.search (the head
noun counts most) plus a little of the trigram similarity of the whole query, so closer wordings come first.
"""
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity, TrigramWordSimilarity
from django.db.models import F, Q, QuerySet, Value

from supply.models import Product, SearchWord
from supply.search import WEIGHTS, QueryTerm, characters_of, query_terms, tsquery_text

TYPO_MIN_LENGTH = 3
TYPO_ALTERNATIVES = 3
TRIGRAM_SHARE = 0.1  # how much of the query's trigram similarity is added to ts_rank


class TsQuery(SearchQuery):
    """A tsquery we wrote ourselves (supply.search.tsquery_text): cast, not parsed by a configuration."""

    template = "(%(expressions)s)::tsquery"

    def __init__(self, text: str):
        super().__init__(text, search_type="raw")


@dataclass(frozen=True)
class SearchMatch:
    text: str  # the query, lower-cased and trimmed
    tsquery: str  # empty for the "similar" stage
    stage: str  # all, any, characters, similar

    def condition(self, path: str = "") -> Q:
        """Products (or rows reaching a product through `path`, e.g. "sku__product__") that match."""
        if self.tsquery:
            return Q(**{f"{path}search_vector": TsQuery(self.tsquery)})
        return Q(**{f"{path}search_document__trigram_word_similar": self.text})

    def relevance(self, path: str = ""):
        similarity = TrigramWordSimilarity(Value(self.text), F(f"{path}search_document"))
        if not self.tsquery:
            return similarity
        return SearchRank(F(f"{path}search_vector"), TsQuery(self.tsquery), weights=list(WEIGHTS)) \
            + similarity * TRIGRAM_SHARE


def typo_alternatives(*, terms: list[QueryTerm]) -> dict[str, tuple[str, ...]]:
    """Query word -> stems of the most similar known words, for English words whose own stem no product has."""
    english = [term for term in terms if term.english and len(term.surface) >= TYPO_MIN_LENGTH]
    if not english:
        return {}
    known = set(SearchWord.objects.filter(stem__in=[term.lexemes[0] for term in english])
                .values_list("stem", flat=True).distinct())
    alternatives = {}
    for term in english:
        if term.lexemes[0] in known:
            continue
        stems = (SearchWord.objects.filter(word__trigram_similar=term.surface)
                 .annotate(similarity=TrigramSimilarity("word", term.surface))
                 .order_by("-similarity", "word").values_list("stem", flat=True)[:TYPO_ALTERNATIVES])
        alternatives[term.surface] = tuple(dict.fromkeys(stems))
    return alternatives


@dataclass(frozen=True)
class SearchResult:
    match: SearchMatch
    ids: list[int]  # the matching products' ids (empty when no stage found anything)


def search_run(*, query: str, products: QuerySet[Product]) -> SearchResult | None:
    """Match `query` among `products` (see the stages above) and return the first stage that finds anything with
    the ids it found; None for a blank query. When no stage finds anything, the strictest match, with no ids."""
    text = " ".join((query or "").lower().split())[:100]
    if not text:
        return None
    terms = query_terms(text)
    typos = typo_alternatives(terms=terms)
    groups = [term.lexemes + typos.get(term.surface, ()) for term in terms]
    stages = []
    if groups:
        stages.append(SearchMatch(text, tsquery_text(groups, operator="&"), "all"))
    if len(groups) > 1:
        stages.append(SearchMatch(text, tsquery_text(groups, operator="|"), "any"))
    characters = characters_of(text)
    if len(characters) > 1:
        stages.append(SearchMatch(text, tsquery_text(characters, operator="&"), "characters"))
    stages.append(SearchMatch(text, "", "similar"))
    for match in stages:
        ids = list(products.filter(match.condition()).values_list("pk", flat=True))
        if ids:
            return SearchResult(match, ids)
    return SearchResult(stages[0], [])


def search_match_find(*, query: str, products: QuerySet[Product]) -> SearchMatch | None:
    """The match of `search_run`, for callers that filter their own rows with it."""
    result = search_run(query=query, products=products)
    return result.match if result is not None else None
