"""Language detection with lingua (its models ship inside the PyPI package: nothing is
downloaded), restricted to the languages an organisation enables, which makes short
messages far more reliable."""

from __future__ import annotations

from functools import cache

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from relais.triage.text import Prepared, prepare

UNDETERMINED = "und"


@cache
def _detector(codes: tuple[str, ...]):
    languages = [
        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in codes
    ]
    if len(languages) == 1:
        return None
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def detect(text: str, languages: tuple[str, ...] = ("fr", "en")) -> str:
    """ISO 639-1 code of the text's language among `languages`, or 'und' when the text has
    no letters (only emoji, a URL, numbers)."""
    return detect_prepared(prepare(text), languages)


# Function words of one of the two languages and (almost) never of the other, folded. A
# French or English message that has at least two of one list and none of the other is
# decided without the statistical detector; anything else (mixed, short, no function word,
# an organisation with more languages) goes to lingua.
FRENCH_WORDS = frozenset({
    "ai", "au", "aussi", "aux", "avec", "avez", "bonjour", "c", "ca", "ce", "cela", "ces",
    "cette", "chez", "comment", "d", "dans", "depuis", "des", "du", "elle", "elles", "encore",
    "est", "et", "etes", "faire", "fait", "il", "ils", "j", "je", "l", "le", "les", "leur",
    "leurs", "mais", "merci", "n", "ne", "nos", "notre", "nous", "ou", "pas", "peut", "pour",
    "pourquoi", "qu", "quand", "que", "qui", "sans", "sont", "suis", "sur", "toujours", "tres",
    "une", "vos", "votre", "vous"
})  # fmt: skip
ENGLISH_WORDS = frozenset({
    "about", "after", "all", "an", "and", "any", "are", "at", "be", "been", "but", "can",
    "could", "do", "don", "for", "from", "get", "has", "have", "how", "i", "im", "is", "it",
    "just", "my", "now", "of", "our", "please", "should", "so", "t", "than", "thank", "thanks",
    "that", "the", "their", "them", "then", "there", "they", "this", "to", "was", "we", "were",
    "what", "when", "why", "will", "with", "would", "you", "your"
})  # fmt: skip
_SHORTCUT = frozenset({"en", "fr"})


def _function_words(words: list[str]) -> str | None:
    french = english = 0
    for word in words:
        if word in FRENCH_WORDS:
            french += 1
        elif word in ENGLISH_WORDS:
            english += 1
    if french >= 2 and not english:
        return "fr"
    if english >= 2 and not french:
        return "en"
    return None


def detect_prepared(prepared: Prepared, languages: tuple[str, ...] = ("fr", "en")) -> str:
    if not prepared.has_letters:
        return UNDETERMINED
    detector = _detector(tuple(sorted(languages)))
    if detector is None:
        return languages[0]
    if frozenset(languages) == _SHORTCUT:
        clear = _function_words(prepared.words)
        if clear is not None:
            return clear
    found = detector.detect_language_of(prepared.raw[:2000])
    return found.iso_code_639_1.name.lower() if found is not None else UNDETERMINED
