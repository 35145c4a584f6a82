"""The one matcher of all monitors: accents, phrases, NOT, hashtags, filters, tenants."""

from relais.listening.matcher import Matcher, MessageFacts, MonitorSpec
from relais.listening.query import Context, parse, to_json

CTX = Context(resolve_line=lambda v: {"c4": "0004"}.get(v.lower()), intents=["complaint"])


def matcher(*queries, org=1, sources="all"):
    return Matcher(
        [
            MonitorSpec(id=i, organization_id=org, tree=to_json(parse(q, CTX)), sources=sources)
            for i, q in enumerate(queries, start=1)
        ]
    )


def facts(text, org=1, **kw):
    return MessageFacts(organization_id=org, text=text, **kw)


def test_accents_and_case_are_ignored_both_ways():
    m = matcher("aéroport", "GREVE")
    assert m.match(facts("Tout est bloqué à l'AEROPORT")) == [1]
    assert m.match(facts("la grève continue")) == [2]


def test_whole_words_only():
    m = matcher("bus")
    assert m.match(facts("le bus 11")) == [1]
    assert m.match(facts("le terminus")) == []
    assert m.match(facts("Bus!")) == [1]


def test_phrases_need_the_words_in_order():
    m = matcher('"alerte à la bombe"')
    assert m.match(facts("ALERTE A LA BOMBE à Rennes")) == [1]
    assert m.match(facts("la bombe, alerte")) == []
    assert m.match(facts("alerte à la bombe")) == [1]


def test_not_excludes():
    m = matcher("bombe -blague", "bombe AND NOT (exercice OR drill)")
    assert m.match(facts("alerte bombe")) == [1, 2]
    assert m.match(facts("bombe, c'est une blague")) == [2]
    assert m.match(facts("bombe: simple exercice")) == [1]


def test_hashtags_and_mentions():
    m = matcher("#grevestar", "grevestar", "@STAR_Rennes")
    assert m.match(facts("encore #GreveSTAR ce matin")) == [1, 2]
    assert m.match(facts("grevestar sans dièse")) == [2]
    assert m.match(facts("hey @star_rennes le métro ?")) == [3]
    assert m.match(facts("star rennes le métro ?")) == []


def test_or_and_filters():
    m = matcher("(bombe OR bomb) lang:en network:x", "line:C4 intent:complaint")
    assert m.match(facts("bomb alert", lang="en", network="x")) == [1]
    assert m.match(facts("bomb alert", lang="fr", network="x")) == []
    assert m.match(facts("bus en retard", lines=["0004"], intent="complaint")) == [2]
    assert m.match(facts("bus en retard", lines=["0004"], intent="question")) == []


def test_organisations_never_see_each_others_monitors():
    m = Matcher(
        [
            MonitorSpec(id=1, organization_id=1, tree=to_json(parse("bombe", CTX))),
            MonitorSpec(id=2, organization_id=2, tree=to_json(parse("bombe", CTX))),
        ]
    )
    assert m.match(facts("bombe", org=1)) == [1]
    assert m.match(facts("bombe", org=2)) == [2]
    assert m.match(facts("bombe", org=3)) == []


def test_sources():
    own = matcher("bombe", sources="own")
    listening = matcher("bombe", sources="listening")
    assert own.match(facts("bombe", listening=True)) == []
    assert own.match(facts("bombe")) == [1]
    assert listening.match(facts("bombe", listening=True)) == [1]
    assert listening.match(facts("bombe")) == []


def test_a_broken_stored_query_is_skipped_not_fatal():
    good = MonitorSpec(id=8, organization_id=1, tree=to_json(parse("bombe", CTX)))
    m = Matcher([MonitorSpec(id=9, organization_id=1, tree=["zzz"]), good])
    assert m.skipped and m.skipped[0][0] == 9
    assert m.match(facts("bombe")) == [8]
