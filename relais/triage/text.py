"""Text normalisation shared by every matcher: lower case, no accents, words and positions."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters and digits (any script) make words; '#' and '@' start tags; everything else
# separates. Apostrophes separate too: "l'arrêt" → "l", "arret".
_WORD = re.compile(r"[#@]?[^\W_]+", re.UNICODE)
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without diacritics: 'Gaîté' → 'gaite', 'RÉPUBLIQUE' → 'republique'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def strip_urls(text: str) -> str:
    return _URL.sub(" ", text)


def words(text: str) -> list[str]:
    """Folded words of a text, URLs removed, tags kept with their '#' or '@'."""
    return _WORD.findall(fold(strip_urls(text)))


def has_letters(text: str) -> bool:
    return any(c.isalpha() for c in strip_urls(text))
