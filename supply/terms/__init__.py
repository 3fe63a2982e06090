"""The term dictionary of the catalogue: English words and phrases of supplier titles with their Chinese, a role
that places the Chinese in a title the Chinese way, and search synonyms. The data is `terms.tsv` beside this module
(its header documents the format); `compose.py` turns an English title into a Chinese one with it, and
`supply.search` indexes its Chinese and synonyms. Pure code: no ORM.
"""
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TERMS_PATH = Path(__file__).with_name("terms.tsv")

# The slots of a Chinese product title, in order: 多款 / 大号 / 复古 / 圣诞 / 红色 / 爱心 / 陶瓷 / 挂式 / 马克杯.
SLOT_ROLES = ("lead", "size", "style", "theme", "colour", "motif", "material", "modifier", "noun")
# attach: glued after the entry before it (DESIGN -> 图案); unit: after a number (3 TIER -> 3层);
# function: grammar words the composer handles itself (OF, WITH, IN, SET, PACK...).
OTHER_ROLES = ("attach", "unit", "function")
DEFAULT_CLASSIFIER = "个"
DROPPED = "-"


@dataclass(frozen=True)
class Term:
    english: tuple[str, ...]  # upper-case words
    chinese: str  # "" for a dropped filler word
    role: str
    classifier: str  # the measure word of a noun (支, 张, 个...), used for "PACK OF 12" -> 12支装
    synonyms: tuple[str, ...]


@dataclass(frozen=True)
class TermDictionary:
    terms: dict[tuple[str, ...], Term]
    words: frozenset[str]  # every word of every entry: what a title word is singularised towards
    longest: int  # words in the longest entry

    def __len__(self) -> int:
        return len(self.terms)


def terms_parse(text: str, *, source: str = "terms") -> TermDictionary:
    """Parse the dictionary format (see terms.tsv). Refuses an unknown role, a line without Chinese or a repeated
    English key, naming the line, so a bad edit fails loudly in the tests rather than translating oddly."""
    terms: dict[tuple[str, ...], Term] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3 or not fields[0].strip() or not fields[1].strip():
            raise ValueError(f"{source}:{number}: expected english<TAB>chinese<TAB>role[<TAB>synonyms]")
        english = tuple(fields[0].upper().split())
        role, _slash, classifier = fields[2].strip().partition("/")
        if role not in SLOT_ROLES and role not in OTHER_ROLES:
            raise ValueError(f"{source}:{number}: unknown role {role!r}")
        if english in terms:
            raise ValueError(f"{source}:{number}: {' '.join(english)} is already in the dictionary")
        chinese = fields[1].strip()
        terms[english] = Term(english=english, chinese="" if chinese == DROPPED else chinese, role=role,
                              classifier=classifier or DEFAULT_CLASSIFIER,
                              synonyms=tuple(fields[3].split()) if len(fields) > 3 else ())
    return TermDictionary(terms=terms, words=frozenset(word for key in terms for word in key),
                          longest=max((len(key) for key in terms), default=1))


@lru_cache(maxsize=1)
def terms_version() -> str:
    """A fingerprint of the committed dictionary: titles made with another version are made again."""
    return hashlib.sha256(TERMS_PATH.read_bytes()).hexdigest()[:12]


@lru_cache(maxsize=1)
def term_dictionary() -> TermDictionary:
    """The committed dictionary, read once per process."""
    return terms_parse(TERMS_PATH.read_text(encoding="utf-8"), source=TERMS_PATH.name)
