"""Text normalisation shared by every matcher: lower case, no accents, words and positions."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Letters and digits (any script) make words; '#' and '@' start tags; everything else
# separates. Apostrophes separate too: "l'arrêt" → "l", "arret".
_WORD = re.compile(r"[#@]?[^\W_]+", re.UNICODE)
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)


class _DropCombining(dict):
    """A str.translate table that deletes combining marks, filled as characters are seen:
    the look-ups of known characters stay in C."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.combining(chr(code)) else code
        self[code] = value
        return value


_DROP_COMBINING = _DropCombining()


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without diacritics: 'Gaîté' → 'gaite', 'RÉPUBLIQUE' → 'republique'."""
    lowered = text.casefold()
    if lowered.isascii():
        return lowered
    return unicodedata.normalize("NFKD", lowered).translate(_DROP_COMBINING)


def strip_urls(text: str) -> str:
    return _URL.sub(" ", text)


def words(text: str) -> list[str]:
    """Folded words of a text, URLs removed, tags kept with their '#' or '@'."""
    return _WORD.findall(fold(strip_urls(text)))


def has_letters(text: str) -> bool:
    return any(c.isalpha() for c in strip_urls(text))


@dataclass(frozen=True)
class Prepared:
    """A message once: without its URLs, folded, and its words. Every matcher of one triage
    reads this instead of redoing the same work."""

    raw: str  # the text without URLs
    folded: str  # fold(raw)
    words: list[str]  # _WORD over folded
    has_letters: bool


def prepare(text: str) -> Prepared:
    raw = strip_urls(text)
    folded = fold(raw)
    return Prepared(
        raw=raw,
        folded=folded,
        words=_WORD.findall(folded),
        has_letters=any(c.isalpha() for c in raw),
    )
