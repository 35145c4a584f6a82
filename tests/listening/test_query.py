"""The monitor query language: parsing, errors with positions, refusals."""

import pytest

from relais.listening.query import Context, QueryError, normalise, parse, to_json

CTX = Context(
    resolve_line=lambda v: {"c4": "0004", "0004": "0004", "a": "1001"}.get(v.lower()),
    intents=["question", "complaint", "praise"],
)


def tree(q):
    return to_json(parse(q, CTX))


def error(q) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse(q, CTX)
    return caught.value


def test_words_phrases_and_implicit_and():
    assert tree('bombe "Alerte à la bombe"') == [
        "and",
        [["t", "word", "bombe"], ["t", "phrase", "alerte a la bombe"]],
    ]


def test_precedence_and_binds_tighter_than_or():
    assert tree("bombe aeroport OR airport") == [
        "or",
        [["and", [["t", "word", "bombe"], ["t", "word", "aeroport"]]], ["t", "word", "airport"]],
    ]
    assert tree("bombe (aeroport OR airport)") == [
        "and",
        [["t", "word", "bombe"], ["or", [["t", "word", "aeroport"], ["t", "word", "airport"]]]],
    ]


def test_not_minus_tags_mentions_filters():
    assert tree("#Grève @STAR_Rennes -blague NOT lang:en network:x intent:complaint line:C4") == [
        "and",
        [
            ["t", "hashtag", "#greve"],
            ["t", "mention", "@star_rennes"],
            ["not", ["t", "word", "blague"]],
            ["not", ["f", "lang", "en"]],
            ["f", "network", "x"],
            ["f", "intent", "complaint"],
            ["f", "line", "0004"],
        ],
    ]


def test_a_line_alone_is_a_valid_anchor():
    assert tree("line:a") == ["f", "line", "1001"]


def test_word_with_punctuation_becomes_a_phrase():
    assert tree("l'aéroport") == ["t", "phrase", "l aeroport"]


def test_normalise_folds_case_accents_and_punctuation():
    assert normalise("ALERTE à la Bombe, à l’Aéroport !! #Rennes @AFP") == (
        " alerte a la bombe a l aeroport #rennes @afp "
    )
    assert normalise("Œuvre naïve") == " oeuvre naive "


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ("bombe AND", 6, "AND needs a term on its right"),
        ("(bombe OR airport", 0, "parenthesis is never closed"),
        ("bombe)", 5, "closes nothing"),
        ('bombe "alerte', 6, "quote is never closed"),
        ("OR bombe", 0, "needs a term on its left"),
        ("bombe lang:", 11, "needs a value"),
        ("bombe line:Z99", 11, "no line 'Z99'"),
        ("bombe intent:rumour", 13, "unknown intent"),
        ("bombe network:myspace", 14, "unknown network"),
        ("bombe colour:red", 6, "unknown filter 'colour:'"),
        ("bombe ()", 6, "empty parentheses"),
        ("", 0, "empty"),
    ],
)
def test_errors_point_at_the_position(query, position, words):
    exc = error(query)
    assert exc.position == position, str(exc)
    assert words in exc.message
    assert exc.pointer(query).splitlines()[-1] == " " * position + "^"


@pytest.mark.parametrize(
    "query",
    [
        "NOT bombe",
        "-bombe",
        "lang:fr",
        "intent:complaint network:x",
        "le OR la",
        "the",
        "bombe OR -x",
    ],
)
def test_queries_matching_nearly_everything_are_refused_with_the_reason(query):
    exc = error(query)
    assert "would match nearly every message" in exc.message


def test_a_stopword_next_to_a_specific_word_is_fine():
    assert tree("la bombe") == ["and", [["t", "word", "la"], ["t", "word", "bombe"]]]


def test_too_long_query_is_refused():
    with pytest.raises(QueryError):
        parse("bombe " * 400, CTX)
