"""Saved replies in the composer: which templates, in which order, filled how."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from relais.care.models import RoutingRule
from relais.care.replies import saved_replies
from relais.common.timeutils import now
from relais.demo.setup import GTFS_DIR
from relais.inbox import actions
from relais.incidents.models import Incident
from relais.listening.models import CrisisMode
from relais.transit.gtfs import import_feed
from relais.wording.models import Template
from tests.care.helpers import converse


def template(org, key, **kwargs) -> Template:
    kwargs.setdefault("name", key)
    kwargs.setdefault("category", "reply")
    kwargs.setdefault("state", "approved")
    kwargs.setdefault("text", f"Bonjour {{author}}, {key}.")
    return Template.objects.create(organization=org, key=key, **kwargs)


@pytest.fixture
def c4(personas, django_capture_on_commit_callbacks):
    import_feed(organization=personas.org, path=GTFS_DIR)
    return converse(
        personas.account, django_capture_on_commit_callbacks, "La C4 circule ce matin ?"
    )


def keys(replies):
    return [r.template.key for r in replies]


def test_only_approved_reply_and_crisis_templates_latest_version(personas, c4):
    template(personas.org, "a")
    template(personas.org, "b", state="draft")
    template(personas.org, "c", category="promotion")
    old = template(personas.org, "d", text="old {author}")
    template(personas.org, "d", version=2, previous=old, text="new {author}")
    template(personas.org, "e", category="crisis")
    template(personas.other_org, "beta")
    found = saved_replies(conversation=c4)
    assert sorted(keys(found)) == ["a", "d", "e"]
    assert next(r for r in found if r.template.key == "d").text == "new Maelle"


def test_variables_filled_and_missing_shown(personas, c4):
    template(personas.org, "v", text="{author}: la ligne {line} à l'arrêt {stop}.")
    r = saved_replies(conversation=c4)[0]
    assert r.text == "Maelle: la ligne C4 à l'arrêt {stop}." and r.missing == ["stop"]
    with pytest.raises(ValidationError, match="stop"):
        actions.conversation_reply(conversation=c4, membership=personas.agent_a, text=r.text)


def test_short_text_when_too_long_for_the_network(personas, c4):
    template(personas.org, "long", text="{author} " + "x" * 400, short_text="{author}: court")
    r = saved_replies(conversation=c4)[0]
    assert r.short and r.text == "Maelle: court" and not r.too_long
    template(personas.org, "toolong", text="y" * 400)
    r = next(r for r in saved_replies(conversation=c4) if r.template.key == "toolong")
    assert r.too_long and not r.short


def test_order_crisis_rule_incident_intent(personas, c4):
    template(personas.org, "zz-plain")
    template(personas.org, "intent", intents=[c4.intent])
    template(personas.org, "strike", incident_types=["strike"])
    ruled = template(personas.org, "ruled")
    template(personas.org, "crisis", category="crisis")
    incident = Incident.objects.create(
        organization=personas.org, title="Grève", type="strike", started_at=now()
    )
    incident.lines.set(c4.lines.all())
    rule = RoutingRule.objects.create(organization=personas.org, name="r", template=ruled)
    rule.matches.create(conversation=c4, created_at=now())
    assert keys(saved_replies(conversation=c4)) == [
        "ruled",
        "strike",
        "intent",
        "crisis",
        "zz-plain",
    ]
    CrisisMode.objects.create(organization=personas.org, active=True)
    found = saved_replies(conversation=c4)
    assert keys(found)[0] == "crisis" and found[0].pinned


def test_search_by_shortcut_and_words(personas, c4):
    template(personas.org, "greve", shortcut="/greve", name="Grève")
    template(personas.org, "merci", shortcut="/merci", name="Remerciement")
    assert keys(saved_replies(conversation=c4, q="/grè")) == ["greve"]
    assert keys(saved_replies(conversation=c4, q="remerc")) == ["merci"]
    assert keys(saved_replies(conversation=c4, q="/nothing")) == []


def test_language_of_the_conversation(personas, c4):
    template(personas.org, "fr", language="fr")
    template(personas.org, "en", language="en")
    assert keys(saved_replies(conversation=c4)) == ["fr"]


def test_composer_shows_them_escaped_and_search_view(personas, c4, client_as):
    template(personas.org, "x", name="<b>Bonjour</b>", shortcut="/bj", text="Hi {author} <i>")
    client = client_as(personas.agent_a)
    html = client.get(f"/inbox/c/{c4.pk}/").content.decode()
    assert "saved-replies" in html and "&lt;b&gt;Bonjour&lt;/b&gt;" in html
    assert "<b>Bonjour</b>" not in html
    html = client.get(f"/care/c/{c4.pk}/replies/?q=/bj").content.decode()
    assert 'data-template="' in html
    html = client.get(f"/care/c/{c4.pk}/replies/?q=/zz").content.decode()
    assert 'data-template="' not in html
