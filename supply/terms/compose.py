"""English catalogue title -> Chinese display title, with the term dictionary. Pure: strings in, strings out.

How a title is read ("SET OF 3 WHITE HANGING HEART T-LIGHT HOLDERS" -> 白色爱心挂式茶蜡烛台3件套):
1. Words: upper-cased letter runs and numbers; "-", "/", "." and "," separate words ("T-LIGHT" reads T LIGHT,
   "S/3" reads S 3), "&" and "+" read AND, a possessive 's is dropped, "B'FLY" reads B FLY. Plurals find their
   singular entry (CANDLES -> CANDLE, BUTTERFLIES -> BUTTERFLY, KNIVES -> KNIFE).
2. Entries: at each word the longest dictionary phrase that starts there wins ("HOT WATER BOTTLE" before "HOT").
3. Quantities: SET OF 3 / SET 3 / S/3 / 3 PIECE / 18PC -> 3件套; PACK OF 12, BOX OF 6, a leading number
   ("4 PURPLE DINNER CANDLES") -> 12支装 with the head noun's classifier; SET alone -> 套装. A number before a unit
   entry is kept with it (3 TIER -> 3层), before a noun it takes the noun's classifier (4 HOOKS -> 4个挂钩).
   Sizes in figures (25x24x12cm, 45CM, 125g) go to the end as they are; 50'S -> 50年代.
4. Grammar words: "X OF Y" reads Y X (TREE OF LIFE -> 生命树); "WITH Y" -> 带Y before the head noun (the clause
   ends at its first noun, what follows belongs to the title again); "IN Y" is
   packaging when Y names a thing (IN TIN -> 铁盒装, at the front), otherwise just words; "FOR Y" says what it is
   for (before the material); AND, THE, ON... are dropped.
5. Order: the head noun is the last noun entry (English puts it last; a trailing colour or pattern, as in
   "DOORMAT RED RETROSPOT", still goes before it), or the last motif or material when there is no noun; every
   other entry goes to its role's slot, in the order lead, size, style, theme, colour, motif, material, modifier,
   noun, keeping the English order within a slot.
   Two or more colours share one 色 (PINK AND BLUE -> 粉蓝色). Words not in the dictionary stay as they are, with
   the motifs, so nothing is lost; the English title is kept beside the Chinese anyway.
"""
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from supply.terms import SLOT_ROLES, Term, TermDictionary, term_dictionary

_TOKEN = re.compile(r"""\d+(?:\.\d+)?(?:X\d+(?:\.\d+)?)*(?:'S|"|[A-Z]+)?|[A-Z]+(?:'[A-Z]+)*|[&+]""")
_SPEC_UNITS = {"CM", "MM", "M", "G", "KG", "ML", "L", "W", "V", "CMX", '"'}
_PIECE_UNITS = {"PC", "PCS", "P"}
_NUMBER_WORDS = {"TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5, "SIX": 6, "SEVEN": 7, "EIGHT": 8, "NINE": 9,
                 "TEN": 10, "TWELVE": 12}
# Nouns that count their contents in "BOX OF 6" (-> 6个装), like PACK.
_CONTAINERS = {("BOX",), ("BAG",), ("TUBE",), ("TIN",), ("STRING",), ("BUNDLE",), ("PACK",), ("SET",), ("S",)}
_CLAUSE_WORDS = {("WITH",): "with", ("W",): "with", ("IN",): "in", ("FOR",): "for"}
_SETS = {("SET",), ("S",)}


@dataclass
class Piece:
    kind: str  # term, number, unknown, era, spec, quantity
    text: str
    words: int  # title words it stands for
    term: Term | None = None
    number: int | None = None
    latin: bool = False  # shown as it is (an unknown word, a size in figures): spaced from the Chinese

    @property
    def role(self) -> str:
        if self.term is not None:
            return self.term.role
        return {"era": "style", "unknown": "motif", "number": "motif"}.get(self.kind, self.kind)

    def key(self) -> tuple[str, ...]:
        return self.term.english if self.term is not None else ()


@dataclass
class TitleReading:
    """What the composer made of a title: the Chinese, the entries it used (for search synonyms) and the words it
    could not place (for the dictionary's coverage report)."""

    english: str
    chinese: str
    terms: list[Term] = field(default_factory=list)
    unknown_words: list[str] = field(default_factory=list)
    words: int = 0  # letter words of the title (numbers and sizes in figures are not words)


def _singular(word: str, words: frozenset[str]) -> str:
    if word in words:
        return word
    for suffix, replacement in (("IES", "Y"), ("VES", "F"), ("VES", "FE"), ("S", ""), ("ES", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            candidate = word[: -len(suffix)] + replacement
            if candidate in words:
                return candidate
    return word


def _tokens(title: str, dictionary: TermDictionary) -> list[tuple[str, str]]:
    """(surface, key) per word: key is the dictionary form (singular, possessive dropped), "AND" for & and +."""
    found = []
    for token in _TOKEN.findall(title.upper()):
        if token in ("&", "+"):
            found.append((token, "AND"))
        elif token[0].isdigit():
            found.append((token, token))
        else:
            word = token[:-2] if token.endswith("'S") else token
            for part in word.split("'"):
                if part:
                    found.append((part, _singular(part, dictionary.words)))
    return found


def _pieces(title: str, dictionary: TermDictionary) -> list[Piece]:
    tokens = _tokens(title, dictionary)
    pieces: list[Piece] = []
    index = 0
    while index < len(tokens):
        for length in range(min(dictionary.longest, len(tokens) - index), 0, -1):
            key = tuple(key for _surface, key in tokens[index:index + length])
            term = dictionary.terms.get(key)
            if term is not None:
                pieces.append(Piece("term", term.chinese, sum(1 for surface, _ in tokens[index:index + length]
                                                               if not surface[0].isdigit()), term=term))
                index += length
                break
        else:
            surface, key = tokens[index]
            pieces.append(_piece_of(surface, key))
            index += 1
    return pieces


def _piece_of(surface: str, key: str) -> Piece:
    if key in _NUMBER_WORDS:
        return Piece("number", str(_NUMBER_WORDS[key]), 1, number=_NUMBER_WORDS[key])
    if not surface[0].isdigit():
        return Piece("unknown", surface, 1, latin=True)
    digits = re.match(r"\d+(?:\.\d+)?", surface).group()
    rest = surface[len(digits):]
    if not rest:
        return Piece("number", digits, 0, number=int(float(digits)))
    if rest == "'S":
        return Piece("era", f"{digits}年代", 0)
    if rest in _PIECE_UNITS:
        return Piece("quantity", f"{digits}件套", 0)
    if rest in _SPEC_UNITS or rest.startswith("X"):
        return Piece("spec", surface.lower(), 0, latin=True)
    return Piece("unknown", surface, 0, latin=True)


def _is(piece: Piece | None, *keys: tuple[str, ...]) -> bool:
    if piece is None:
        return False
    if piece.term is not None:
        return piece.term.english in keys
    return piece.kind == "unknown" and (piece.text.upper(),) in keys


def _quantities(pieces: list[Piece]) -> tuple[list[Piece], list[tuple[str, int]], bool]:
    """Take the quantity phrases out: returns the other pieces, [(kind, n)] with kind "set" (N件套) or "pack"
    (N<classifier>装) or "text", and whether a bare SET asks for 套装."""
    rest: list[Piece] = []
    quantities: list[tuple[str, int | str]] = []
    bare_set = False
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        following = pieces[index + 1] if index + 1 < len(pieces) else None
        if _is(piece, *_CONTAINERS):
            position = index + 1
            if _is(following, ("OF",)):
                position += 1
            number = pieces[position] if position < len(pieces) else None
            if number is not None and number.kind == "number" and (position > index + 1 or _is(piece, *_SETS,
                                                                                                 ("PACK",))):
                quantities.append(("set" if _is(piece, *_SETS) else "pack", number.number))
                index = position + 1
                continue
            if _is(piece, ("SET",)):
                bare_set = True
                index += 1
                continue
            if _is(piece, ("PACK",)):
                quantities.append(("text", "组合装"))
                index += 1
                continue
        if piece.kind == "quantity":
            quantities.append(("text", piece.text))
            index += 1
            continue
        if piece.kind == "number" and following is not None and following.term is not None:
            if following.term.english in (("PIECE",), ("PC",), ("PCS",)):
                quantities.append(("set", piece.number))
                index += 2
                continue
            if following.term.role == "unit":
                rest.append(Piece("term", f"{piece.text}{following.term.chinese}", following.words,
                                  term=Term(following.term.english, following.term.chinese, "modifier", "", ())))
                index += 2
                continue
        if piece.kind == "number" and index == 0 and len(pieces) > 1:
            quantities.append(("pack", piece.number))
            index += 1
            continue
        rest.append(piece)
        index += 1
    return rest, quantities, bare_set


def _clauses(pieces: list[Piece]) -> tuple[list[Piece], list[tuple[str, list[Piece]]]]:
    """The main clause and the WITH / IN / FOR clauses after it."""
    main: list[Piece] = []
    clauses: list[tuple[str, list[Piece]]] = []
    current = main
    for piece in pieces:
        kind = _CLAUSE_WORDS.get(piece.key()) if piece.term is not None else None
        if kind is not None:
            current = []
            clauses.append((kind, current))
            continue
        current.append(piece)
        if current is not main and piece.role == "noun":
            current = main  # a clause ends with its noun: "SHELF WITH 4 HOOKS HOME SWEET HOME"
    return main, clauses


def _of_swapped(pieces: list[Piece]) -> list[Piece]:
    """X OF Y -> Y X (TREE OF LIFE -> 生命树, BASKET OF TOADSTOOLS -> 毒蘑菇篮子); OF and THE themselves go."""
    result: list[Piece] = []
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        if _is(piece, ("OF",)):
            following = index + 1
            while following < len(pieces) and _is(pieces[following], ("THE",), ("A",)):
                following += 1
            if result and following < len(pieces):
                result.insert(len(result) - 1, pieces[following])
                index = following + 1
                continue
            index += 1
            continue
        result.append(piece)
        index += 1
    return result


def _colour_merged(colours: list[str]) -> list[str]:
    """红色 + 白色 -> 红白色: two or more colours share one 色."""
    if len(colours) < 2:
        return colours
    stems = [colour[:-1] if colour.endswith("色") and len(colour) > 1 else colour for colour in colours]
    return ["".join(dict.fromkeys(stems)) + "色"]


def _clause_parts(pieces: list[Piece], *,
                  extra: dict[str, list[Piece]] | None = None) -> tuple[list[Piece], Term | None]:
    """Order one clause's pieces by slot. Returns the ordered pieces and the head noun's term."""
    pieces = _of_swapped([piece for piece in pieces if not (piece.term is not None and piece.term.role == "function"
                                                            and piece.key() != ("OF",))])
    # attach entries are glued to the piece before them; numbers before a noun take its classifier
    glued: list[Piece] = []
    for index, piece in enumerate(pieces):
        if piece.role == "attach":
            if glued and not glued[-1].text.endswith(piece.text):  # BLUE COLOURS: 蓝色, not 蓝色色
                glued[-1] = Piece(glued[-1].kind, glued[-1].text + piece.text, glued[-1].words + piece.words,
                                  term=glued[-1].term, number=glued[-1].number, latin=glued[-1].latin)
            continue
        following = pieces[index + 1] if index + 1 < len(pieces) else None
        if piece.kind == "number" and following is not None and following.role == "noun":
            pieces[index + 1] = Piece("term", f"{piece.text}{following.term.classifier}{following.text}",
                                      following.words, term=following.term)
            continue
        glued.append(piece)
    nouns = [index for index, piece in enumerate(glued) if piece.role == "noun"]
    if not nouns:  # no product noun (SLEIGH BELLS, PARTY TIME DESIGN FLANNEL): the last motif or material names it
        nouns = [index for index, piece in enumerate(glued)
                 if piece.role in ("motif", "material") and piece.kind == "term"]
    head_index = nouns[-1] if nouns else None
    slots: dict[str, list[Piece]] = {role: [] for role in SLOT_ROLES}
    for index, piece in enumerate(glued):
        if index == head_index:
            continue
        role = piece.role if piece.role in slots else "motif"
        slots[role].append(piece)
    for role, added in (extra or {}).items():
        slots[role].extend(added)
    ordered: list[Piece] = []
    for role in SLOT_ROLES:
        if role == "colour":
            ordered += [Piece("term", text, 0) for text in _colour_merged([piece.text for piece in slots[role]])]
        else:
            ordered += slots[role]
    head = glued[head_index] if head_index is not None else None
    if head is not None:
        ordered.append(head)
    return ordered, (head.term if head is not None else None)


def _joined(pieces: list[Piece]) -> str:
    text = ""
    previous_latin = False
    for piece in pieces:
        if not piece.text or text.endswith(piece.text):
            continue
        if text and (piece.latin or previous_latin):
            text += " "
        text += piece.text
        previous_latin = piece.latin
    return text


def title_read(english: str, *, dictionary: TermDictionary | None = None) -> TitleReading:
    """Read an English catalogue title with the dictionary (see the module's docstring)."""
    if dictionary is None:
        return _title_read_cached(english)
    return _title_read(english, dictionary)


@lru_cache(maxsize=8192)
def _title_read_cached(english: str) -> TitleReading:
    """The committed dictionary's reading: the loader translates a title and indexes it, reading it once."""
    return _title_read(english, term_dictionary())


def _title_read(english: str, dictionary: TermDictionary) -> TitleReading:
    pieces = _pieces(english, dictionary)
    reading = TitleReading(english=english, chinese="")
    reading.words = sum(1 for surface, _key in _tokens(english, dictionary) if not surface[0].isdigit())
    reading.terms = [piece.term for piece in pieces if piece.term is not None]
    specs = [piece for piece in pieces if piece.kind == "spec"]
    pieces = [piece for piece in pieces if piece.kind != "spec"]
    pieces, quantities, bare_set = _quantities(pieces)
    reading.unknown_words = [piece.text for piece in pieces if piece.kind == "unknown" and piece.words]
    main, clauses = _clauses(pieces)
    extra: dict[str, list[Piece]] = {"lead": [], "motif": [], "modifier": []}
    for kind, clause in clauses:
        parts, head = _clause_parts(clause)
        text = _joined(parts)
        if not text:
            continue
        if kind == "with":
            extra["modifier"].append(Piece("term", f"带{text}", 0))
        elif kind == "for":
            extra["motif"].append(Piece("term", text, 0))
        elif head is not None:  # packaging: 铁盒装, 盒装 (盒子 -> 盒)
            extra["lead"].append(Piece("term", f"{text.removesuffix('子')}装", 0))
        else:
            main += clause
    ordered, head = _clause_parts(main, extra=extra)
    classifier = head.classifier if head is not None else "个"
    suffix = []
    for kind, amount in quantities:
        if kind == "set":
            suffix.append(f"{amount}件套")
        elif kind == "pack":
            suffix.append(f"{amount}{classifier}装")
        else:
            suffix.append(str(amount))
    if bare_set and not quantities and not (head is not None and ("套" in head.chinese)):
        suffix.append("套装")
    title = _joined(ordered + [Piece("quantity", text, 0) for text in suffix[:1]])
    if specs:
        title = f"{title} {' '.join(piece.text for piece in specs)}".strip()
    reading.chinese = title or english
    return reading


def title_translate(english: str) -> str:
    """The Chinese display title of an English catalogue title."""
    return title_read(english).chinese


@dataclass
class Coverage:
    words: int  # letter words in the titles, every occurrence
    covered: int  # of them, read by a dictionary entry
    distinct: int
    distinct_covered: int
    uncovered: Counter  # word -> occurrences, for extending the dictionary

    @property
    def share(self) -> float:
        return self.covered / self.words if self.words else 1.0

    @property
    def distinct_share(self) -> float:
        return self.distinct_covered / self.distinct if self.distinct else 1.0


def coverage_of(titles: list[str], *, dictionary: TermDictionary | None = None) -> Coverage:
    """How many of the titles' words the dictionary reads, weighted by occurrence and by distinct word."""
    dictionary = dictionary or term_dictionary()
    uncovered: Counter = Counter()
    every: set[str] = set()
    words = 0
    for title in titles:
        reading = title_read(title, dictionary=dictionary)
        words += reading.words
        every.update(surface for surface, _key in _tokens(title, dictionary) if not surface[0].isdigit())
        uncovered.update(reading.unknown_words)
    missed = sum(uncovered.values())
    return Coverage(words=words, covered=words - missed, distinct=len(every),
                    distinct_covered=len(every) - len(uncovered), uncovered=uncovered)
