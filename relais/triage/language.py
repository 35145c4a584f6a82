"""Language detection with lingua (its models ship inside the PyPI package: nothing is
downloaded), restricted to the languages an organisation enables, which makes short
messages far more reliable."""

from __future__ import annotations

from functools import cache

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from relais.triage.text import has_letters, strip_urls

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
    if not has_letters(text):
        return UNDETERMINED
    detector = _detector(tuple(sorted(languages)))
    if detector is None:
        return languages[0]
    found = detector.detect_language_of(strip_urls(text)[:2000])
    return found.iso_code_639_1.name.lower() if found is not None else UNDETERMINED
