"""The fast paths of the triage engine give the same answers as the plain ones."""

from __future__ import annotations

import random

import pytest

from relais.triage import language
from relais.triage.entities import NetworkLexicon
from relais.triage.lexicon import CUES, NEGATIONS, CueMatcher
from relais.triage.text import fold, prepare, strip_urls, words


def reference_match(matcher: CueMatcher, tokens: list[str]) -> tuple[dict, list]:
    """The matcher's rule written the slow, obvious way: at each word the longest exact cue
    starting there, else the longest prefix cue of the word."""
    scores: dict[str, float] = {}
    cues: list[tuple[str, str]] = []
    for i in range(len(tokens)):
        found = None
        for size in range(min(matcher.max_words, len(tokens) - i), 0, -1):
            key = tuple(tokens[i : i + size])
            if key in matcher.exact:
                found = (matcher.exact[key], " ".join(key))
                break
        if found is None:
            for length in sorted({len(p) for p in matcher.prefix}, reverse=True):
                if length <= len(tokens[i]) and tokens[i][:length] in matcher.prefix:
                    found = (matcher.prefix[tokens[i][:length]], tokens[i])
                    break
        if found is None:
            continue
        negated = any(w in NEGATIONS for w in tokens[max(0, i - 2) : i])
        for category, weight in found[0].items():
            if negated and category == "positive":
                category = "negative"
            scores[category] = scores.get(category, 0.0) + weight
            cues.append((category, found[1]))
    return scores, cues


def test_cue_matcher_equals_the_reference_on_random_cue_soup():
    matcher = CueMatcher()
    vocabulary = sorted({w for entry in CUES for w in entry.rstrip("*").split()})
    vocabulary += ["retards", "bloquee", "scandaleux", "pas", "not", "la", "c4", "#ligne4"]
    rng = random.Random(7)
    for _ in range(400):
        tokens = [rng.choice(vocabulary) for _ in range(rng.randint(0, 25))]
        hits = matcher.match(tokens)
        scores, cues = reference_match(matcher, tokens)
        assert {k: v for k, v in hits.scores.items() if v} == pytest.approx(scores)
        assert hits.cues == cues
    # The per-word memory is bounded.
    assert len(matcher._single) <= CueMatcher.CACHE_LIMIT


def test_multi_word_cue_wins_over_its_first_word():
    hits = CueMatcher().match(words("Le bus est en panne, pas content"))
    assert ("incident_report", "en panne") in hits.cues
    assert ("negative", "content") in hits.cues  # negated positive


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Gaîté", "gaite"),
        ("RÉPUBLIQUE", "republique"),
        ("plain ascii", "plain ascii"),
        ("Straße", "strasse"),
        ("ÇA VA ? 😡", "ca va ? 😡"),
        ("", ""),
    ],
)
def test_fold(text, folded):
    fold.cache_clear()
    assert fold(text) == folded


def test_prepare_is_what_each_matcher_did_on_its_own():
    text = "RT @Ligne4: le MÉTRO A est bloqué à #République https://t.co/x ça craint"
    p = prepare(text)
    assert p.raw == strip_urls(text)
    assert p.folded == fold(strip_urls(text))
    assert p.words == words(text)
    assert p.has_letters
    assert not prepare("https://example.org 😀 123").has_letters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Le bus est encore en retard ce matin et je suis en colère", "fr"),
        ("The flight was delayed and I missed my connection", "en"),
        ("merci", None),  # too short to be sure
        ("the bus est en retard", None),  # both: left to lingua
    ],
)
def test_function_word_shortcut(text, expected):
    assert language._function_words(prepare(text).words) == expected


def test_language_detection_with_and_without_the_shortcut():
    assert language.detect("Le bus est encore en retard ce matin et je suis en colère") == "fr"
    assert language.detect("The flight was delayed and I missed my connection") == "en"
    assert language.detect("Bonjour, retard") == "fr"  # no shortcut: lingua decides
    assert language.detect("https://t.co/abc 🙂") == language.UNDETERMINED
    # With another language enabled the French and English lists prove nothing: lingua.
    assert language.detect("El autobús no ha pasado y llego tarde", ("fr", "en", "es")) == "es"


def test_lines_and_stops_same_with_or_without_the_folded_text(star_lexicon):
    for text in (
        "La C4 ne passe plus à République ni à Sainte-Anne",
        "#ligne4 bloquée, arrêt Gares, métro a",
        "le 11 novembre à 11h, bus 11 vers Villejean-Université https://t.co/a",
    ):
        folded = prepare(text).folded
        assert star_lexicon.lines(text) == star_lexicon.lines(text, folded)
        assert star_lexicon.stops(text) == star_lexicon.stops(text, folded)
    assert [r.short_name for r in star_lexicon.lines("la C4 et le métro a")] == ["C4", "a"]


@pytest.fixture(scope="module")
def star_lexicon():
    from relais.demo.setup import GTFS_DIR

    return NetworkLexicon.from_gtfs(GTFS_DIR)
