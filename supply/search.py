"""Product search for Chinese and English queries: what goes into a product's full-text vector, and how a query is
cut into the same lexemes. Pure: no ORM (the ranking and the typo lookup are in supply.selectors).

A product keeps `search_vector` (a PostgreSQL tsvector, GIN-indexed) and `search_document` (plain text, trigram
indexed). The vector is built here as a tsvector literal and cast, not parsed by a text-search configuration: the
lexemes are already what they should be, from one tokeniser for documents and queries alike.
- English: lower-cased words, Snowball English stems (mugs -> mug, candles -> candl), the stems PostgreSQL's own
  'english' configuration makes; function words (of, and, with...) are left out.
- Chinese: jieba words (search mode: 茶蜡烛台 also gives 蜡烛 and 烛台), with every Chinese word of the term
  dictionary known to jieba, so a title is cut where the dictionary put its words; and single Han characters at
  the lowest weight, so a one-character query (灯) still finds something.
Weights (ts_rank's A..D): A = the head noun of the title as the term dictionary reads it (its last English word, its
Chinese and its synonyms, uncut): "mug" ranks mugs above mug warmers, "蜡烛" candles above candle holders; B = every
word of the Chinese and the English title; C =
the dictionary's synonyms of the other terms and the category names; D = single characters and the description.
"""
import re
from dataclasses import dataclass
from functools import lru_cache

import jieba
import snowballstemmer

from supply.terms import Term, term_dictionary
from supply.terms.compose import title_read

jieba.setLogLevel(60)  # jieba prints its dictionary loading to stderr at INFO otherwise

_ENGLISH_WORD = re.compile(r"[a-z0-9]+")
_HAN = re.compile(r"[\u4e00-\u9fff]+")
_STEMMER = snowballstemmer.stemmer("english")
MAX_QUERY_TERMS = 8
MAX_POSITIONS = 8  # per lexeme: enough for ts_rank, far below tsvector's limit of 256
WEIGHTS = (0.05, 0.2, 0.4, 1.0)  # ts_rank's {D, C, B, A}


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """English grammar words of the dictionary (of, and, with...): never a search term."""
    return frozenset(" ".join(term.english).lower() for term in term_dictionary().terms.values()
                     if term.role == "function" and len(term.english) == 1) - {"set", "pack"}


@lru_cache(maxsize=1)
def _jieba_ready() -> None:
    """Every Chinese word of the term dictionary becomes a jieba word (once per process)."""
    for term in term_dictionary().terms.values():
        for word in (term.chinese, *term.synonyms):
            if len(word) >= 2 and _HAN.fullmatch(word):
                jieba.add_word(word)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball English stem (cached: a catalogue repeats its words, and stemming is most of indexing's time)."""
    return _STEMMER.stemWord(word)


def english_words(text: str) -> list[str]:
    """Lower-cased English words and numbers of a text, grammar words left out, in order."""
    return [word for word in _ENGLISH_WORD.findall((text or "").lower())
            if (len(word) >= 2 or word.isdigit()) and word not in stop_words()]


def chinese_words(text: str, *, for_search: bool = True) -> list[str]:
    """jieba words of the Chinese parts of a text (search mode adds the shorter words inside longer ones)."""
    _jieba_ready()
    found = []
    for chunk in _HAN.findall(text or ""):
        words = jieba.cut_for_search(chunk) if for_search else jieba.cut(chunk)
        found += [word for word in words if word.strip()]
    return found


def _lexemes(text: str) -> list[str]:
    return [stem(word) for word in english_words(text)] + chinese_words(text)


def _quoted(lexeme: str) -> str:
    """A lexeme as tsvector and tsquery literals write it."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _vector_literal(weighted: list[tuple[str, str]]) -> str:
    positions: dict[str, list[str]] = {}
    for position, (lexeme, weight) in enumerate(weighted, 1):
        entries = positions.setdefault(lexeme, [])
        if len(entries) < MAX_POSITIONS:
            entries.append(f"{min(position, 16383)}{weight}")
    return " ".join(f"{_quoted(lexeme)}:{','.join(entries)}" for lexeme, entries in positions.items())


@lru_cache(maxsize=8192)
def _synonyms_of(term: Term) -> tuple[str, ...]:
    """A term's Chinese and synonyms, and its words written as one (T LIGHT -> tlight, KEY RING -> keyring), as
    shoppers also type them."""
    compound = ("".join(term.english).lower(),) if len(term.english) > 1 else ()
    return (term.chinese, *term.synonyms, *compound)


@lru_cache(maxsize=8192)
def _synonym_lexemes(synonyms: tuple[str, ...]) -> list[str]:
    return _lexemes(" ".join(synonyms))


@lru_cache(maxsize=8192)
def _head_lexemes(head: Term) -> list[str]:
    """The head noun as whole words: the last English word of the entry (HOLDER of T LIGHT HOLDER), the entry
    written as one word (keyring), its Chinese and Chinese synonyms uncut (茶蜡烛台, 烛台: not 蜡烛, which stays a
    B word of a candle holder, so "蜡烛" ranks candles above their holders)."""
    lexemes = [stem(head.english[-1].lower())]
    if len(head.english) > 1:
        lexemes.append("".join(head.english).lower())
    for word in (head.chinese, *head.synonyms):
        if _HAN.fullmatch(word):
            lexemes.append(word)
        else:
            english = english_words(word)
            if english:
                lexemes.append(stem(english[-1]))
            if len(english) > 1:
                lexemes.append("".join(english))
    return lexemes


@dataclass(frozen=True)
class SearchFields:
    vector: str  # tsvector literal
    document: str  # plain text for trigram similarity
    words: tuple[str, ...]  # English words for the typo vocabulary


def search_fields(*, title: str, source_title: str = "", category_names: tuple[str, ...] = (),
                  description: str = "") -> SearchFields:
    """What a product is found by. `title` is the display title (Chinese for the demo), `source_title` the
    supplier's original (English) title when there is one: the term dictionary reads it for the head noun and
    the synonyms."""
    weighted: list[tuple[str, str]] = []
    english_source = source_title or ""
    reading = title_read(english_source) if english_source else None
    head = None
    if reading is not None:
        nouns = [term for term in reading.terms if term.role == "noun"]
        head = nouns[-1] if nouns else None
    if head is not None:
        weighted += [(lexeme, "A") for lexeme in _head_lexemes(head)]
    elif not english_source:
        weighted += [(lexeme, "A") for lexeme in _lexemes(title)]
    weighted += [(lexeme, "B") for lexeme in _lexemes(f"{title} {english_source}")]
    synonyms = []
    for term in (reading.terms if reading is not None else []):
        if term is head or term.role == "function":
            continue
        synonyms += _synonyms_of(term)
    weighted += [(lexeme, "C") for lexeme in _synonym_lexemes(tuple(synonyms)) + _lexemes(" ".join(category_names))]
    weighted += [(character, "D") for character in dict.fromkeys("".join(_HAN.findall(title)))]
    weighted += [(lexeme, "D") for lexeme in _lexemes((description or "")[:500])]
    words = tuple(dict.fromkeys(english_words(" ".join([english_source, title, *synonyms, *category_names]))))
    document = " ".join(dict.fromkeys([title, english_source.lower(), *category_names])).strip()
    return SearchFields(vector=_vector_literal(weighted), document=document, words=words)


def search_document(*texts: str) -> str:
    """The plain text of a product for trigram similarity (kept for callers that index free text)."""
    return " ".join(text for text in texts if text).strip()


@dataclass(frozen=True)
class QueryTerm:
    surface: str  # as typed (lower-cased)
    lexemes: tuple[str, ...]  # any of them matches
    english: bool  # an English word: the typo vocabulary may add alternatives


def query_terms(query: str) -> list[QueryTerm]:
    """The terms of a query, in order, at most MAX_QUERY_TERMS: English words (stemmed) and jieba words."""
    terms = [QueryTerm(word, (stem(word),), True) for word in english_words(query)]
    terms += [QueryTerm(word, (word,), False) for word in chinese_words(query, for_search=False)]
    return list({term.surface: term for term in terms}.values())[:MAX_QUERY_TERMS]


def tsquery_text(alternatives: list[tuple[str, ...]], *, operator: str = "&") -> str:
    """A tsquery literal: each inner tuple's lexemes ORed, the tuples joined by `operator` (& or |)."""
    groups = ["(" + " | ".join(_quoted(lexeme) for lexeme in dict.fromkeys(group)) + ")"
              for group in alternatives if group]
    return f" {operator} ".join(groups)


def characters_of(query: str) -> list[tuple[str, ...]]:
    """The Han characters of a query, one group each: the last resort for a Chinese query whose words no title has."""
    return [(character,) for character in dict.fromkeys("".join(_HAN.findall(query or "")))]
