"""The Chinese text toolbox every app may use: jieba words and keywords.

jieba's dictionary is loaded once per process on first use (about a second; jieba caches it in the system's
temporary folder). Words added by apps (e.g. supply's term dictionary) are known to every caller, since jieba keeps
one default tokenizer per process.
"""
import re
from functools import cache

import jieba
import jieba.analyse

jieba.setLogLevel(60)  # jieba prints its dictionary loading to stderr at INFO otherwise

_SPACE = re.compile(r"\s+")


@cache
def _ready() -> None:
    jieba.initialize()


def words(text: str) -> list[str]:
    """jieba's words of `text` (precise mode), Latin letters lower-cased, spaces and punctuation dropped."""
    _ready()
    return [word.lower() for word in jieba.cut(_SPACE.sub(" ", text or "")) if word.strip() and not _punctuation(word)]


def keywords(text: str, *, top: int = 5) -> list[str]:
    """The `top` keywords of `text` by TF-IDF against jieba's document frequencies (jieba.analyse)."""
    _ready()
    return list(jieba.analyse.extract_tags(text or "", topK=top))


def _punctuation(word: str) -> bool:
    return all(not character.isalnum() for character in word)
