"""The editorial calendar: proposing, approving, the week and month views, publishing when
due through publication_start."""

# ruff: noqa: S101

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import translation

from relais.common.timeutils import now
from relais.publishing.editorial import actions as editorial
from relais.publishing.models import Publication, PublicationState
from tests.publishing.part2 import route

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _local(dt, org) -> str:
    return dt.astimezone(ZoneInfo(org.timezone)).strftime("%Y-%m-%dT%H:%M")


def test_an_agent_proposes_and_a_supervisor_approves(personas):
    post = editorial.post_create(
        membership=personas.agent_a,
        text="Nouvelle appli",
        category="promotion",
        scheduled_at=now() + timedelta(days=2),
    )
    assert post.state == PublicationState.AWAITING_APPROVAL
    with pytest.raises(PermissionDenied):
        editorial.post_approve(membership=personas.agent_b, publication=post)
    editorial.post_approve(membership=personas.supervisor, publication=post)
    post.refresh_from_db()
    assert post.state == PublicationState.SCHEDULED
    assert post.approved_by == personas.supervisor.user


def test_a_supervisor_can_send_back_and_viewers_cannot_propose(personas):
    post = editorial.post_create(
        membership=personas.agent_a,
        text="Nouvelle appli",
        category="promotion",
        scheduled_at=now() + timedelta(days=2),
    )
    editorial.post_reject(membership=personas.supervisor, publication=post, reason="ton")
    post.refresh_from_db()
    assert post.state == PublicationState.DRAFT
    with pytest.raises(PermissionDenied):
        editorial.post_create(
            membership=personas.viewer,
            text="x",
            category="promotion",
            scheduled_at=now() + timedelta(days=1),
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": "  "}, "Write the text"),
        ({"category": "conversation"}, "Choose a category"),
        ({"scheduled_at": None}, "Choose a date"),
        ({"scheduled_at": "past"}, "in the past"),
    ],
)
def test_bad_input_is_refused_with_the_reason(personas, fields, message):
    values = {"text": "Bonjour", "category": "promotion", "scheduled_at": now() + timedelta(days=1)}
    values.update(fields)
    if values["scheduled_at"] == "past":
        values["scheduled_at"] = now() - timedelta(hours=1)
    with pytest.raises(editorial.PostError, match=message):
        editorial.post_create(membership=personas.supervisor, **values)
    assert not Publication.objects.exists()


def test_another_organisations_line_is_refused(personas):
    theirs = route(personas.other_org, "B")
    with pytest.raises(editorial.PostError):
        editorial.post_create(
            membership=personas.supervisor,
            text="La B",
            category="promotion",
            scheduled_at=now() + timedelta(days=1),
            line_ids=[theirs.pk],
        )


def test_publish_due_starts_only_approved_due_posts_once(personas, monkeypatch):
    started: list[int] = []
    monkeypatch.setattr(editorial, "_start", lambda p: started.append(p.pk) or p)
    due = editorial.post_create(
        membership=personas.supervisor,
        text="Merci",
        category="institutional",
        scheduled_at=now() + timedelta(minutes=5),
    )
    waiting = editorial.post_create(
        membership=personas.agent_a,
        text="Pas approuvé",
        category="institutional",
        scheduled_at=now() + timedelta(minutes=5),
    )
    later = editorial.post_create(
        membership=personas.supervisor,
        text="Plus tard",
        category="institutional",
        scheduled_at=now() + timedelta(days=1),
    )
    Publication.objects.filter(pk__in=[due.pk, waiting.pk]).update(
        scheduled_at=now() - timedelta(minutes=1)
    )

    def fake_start(publication):
        started.append(publication.pk)
        Publication.objects.filter(pk=publication.pk).update(state=PublicationState.PUBLISHING)
        return publication

    monkeypatch.setattr(editorial, "_start", fake_start)
    assert editorial.publish_due() == [due.pk]
    assert editorial.publish_due() == []  # it left the scheduled state: never twice
    assert started == [due.pk]
    assert later.pk not in started


def test_a_failing_start_leaves_the_post_scheduled(personas, monkeypatch):
    post = editorial.post_create(
        membership=personas.supervisor,
        text="Merci",
        category="institutional",
        scheduled_at=now() + timedelta(minutes=5),
    )
    Publication.objects.filter(pk=post.pk).update(scheduled_at=now() - timedelta(minutes=1))

    def broken(publication):
        Publication.objects.filter(pk=publication.pk).update(state=PublicationState.PUBLISHING)
        raise RuntimeError("no channel")

    monkeypatch.setattr(editorial, "_start", broken)
    assert editorial.publish_due() == []
    post.refresh_from_db()
    assert post.state == PublicationState.SCHEDULED


def test_week_and_month_views_show_the_posts_in_the_organisations_zone(personas, client_as):
    at = now() + timedelta(days=1)
    post = editorial.post_create(
        membership=personas.supervisor,
        text="Rénovation <b>station</b>",
        category="promotion",
        scheduled_at=at,
    )
    theirs = editorial.post_create(
        membership=personas.outsider,
        text="Secret de Beta",
        category="promotion",
        scheduled_at=at,
    )
    client = client_as(personas.agent_a)
    local = at.astimezone(ZoneInfo(personas.org.timezone))
    for view in ("week", "month"):
        response = client.get(
            reverse("publishing:calendar") + f"?view={view}&date={local.date().isoformat()}"
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "Rénovation &lt;b&gt;station&lt;/b&gt;" in html  # shown escaped
        assert local.strftime("%H:%M") in html
        assert "Secret de Beta" not in html
        shown = [p.pk for w in response.context["period"].weeks for d in w for p in d.publications]
        assert shown == [post.pk]
        assert theirs.pk not in shown
    # The category filter.
    response = client.get(
        reverse("publishing:calendar") + f"?date={local.date().isoformat()}&category=institutional"
    )
    assert "Rénovation" not in response.content.decode()


def test_the_form_creates_and_the_page_approves(personas, client_as):
    line = route(personas.org, "B")
    at = now() + timedelta(days=3)
    client = client_as(personas.agent_a)
    response = client.post(
        reverse("publishing:post_new"),
        {
            "text": "La ligne B fait peau neuve",
            "category": "promotion",
            "scheduled_at": _local(at, personas.org),
            "lines": [str(line.pk)],
        },
    )
    assert response.status_code == 302
    post = Publication.objects.get()
    assert post.state == PublicationState.AWAITING_APPROVAL
    assert list(post.lines.all()) == [line]
    assert abs((post.scheduled_at - at).total_seconds()) < 60
    # An agent cannot approve; a supervisor can.
    client.post(reverse("publishing:post_action", args=[post.pk, "approve"]))
    post.refresh_from_db()
    assert post.state == PublicationState.AWAITING_APPROVAL
    client = client_as(personas.supervisor)
    response = client.post(reverse("publishing:post_action", args=[post.pk, "approve"]))
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.state == PublicationState.SCHEDULED


def test_the_form_says_what_is_wrong(personas, client_as):
    response = client_as(personas.agent_a).post(
        reverse("publishing:post_new"),
        {"text": "x", "category": "promotion", "scheduled_at": "bad"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 400
    assert "Choisissez une date et une heure." in response.content.decode()
    assert not Publication.objects.exists()


def test_the_calendar_is_usable_on_a_phone(personas, client_as):
    html = client_as(personas.agent_a).get(reverse("publishing:calendar")).content.decode()
    assert 'name="viewport"' in html
    assert "publishing/publishing.css" in html


def test_the_demo_has_subscribers_posts_and_officials(db):
    from relais.demo.setup import load_demo
    from relais.publishing.models import NeutralityPerson, Subscriber

    info = load_demo()
    load_demo()  # twice: nothing doubled
    org = info.organization
    assert Subscriber.objects.filter(organization=org, state="confirmed").count() == 3
    assert Publication.objects.filter(organization=org, kind="post").count() == 3
    promo = Publication.objects.get(organization=org, category="promotion", state="scheduled")
    assert promo.lines.count() == 1
    assert NeutralityPerson.objects.filter(organization=org).count() == 2


def test_a_due_post_goes_out_through_publication_start(
    personas, django_capture_on_commit_callbacks
):
    """With part 1's real fan-out: the sandbox account receives the post once."""
    from relais.connectors.sandbox.models import SandboxPost
    from relais.publishing.tasks import calendar_tick

    post = editorial.post_create(
        membership=personas.supervisor,
        text="Merci à tous pour la Fête du vélo !",
        category="institutional",
        scheduled_at=now() + timedelta(minutes=5),
    )
    Publication.objects.filter(pk=post.pk).update(scheduled_at=now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        calendar_tick.call_local()
    post.refresh_from_db()
    assert post.state in (PublicationState.PUBLISHING, PublicationState.PUBLISHED)
    assert post.targets.count() == 1
    posts = SandboxPost.objects.filter(account=personas.account, from_organization=True)
    assert [p.text for p in posts] == [post.text]
    with django_capture_on_commit_callbacks(execute=True):
        calendar_tick.call_local()
    assert SandboxPost.objects.filter(account=personas.account, from_organization=True).count() == 1


def test_times_are_shown_in_the_organisations_zone(personas, client_as):
    personas.org.timezone = "America/Montreal"
    personas.org.save(update_fields=["timezone"])
    at = (now() + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
    post = editorial.post_create(
        membership=personas.supervisor, text="Bonjour", category="promotion", scheduled_at=at
    )
    client = client_as(personas.supervisor)
    montreal = at.astimezone(ZoneInfo("America/Montreal"))
    html = client.get(
        reverse("publishing:calendar") + f"?date={montreal.date().isoformat()}"
    ).content.decode()
    assert montreal.strftime("%H:%M") in html  # 10:00 or 11:00, not Paris's 16:00
    assert at.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M") not in html
    page = client.get(reverse("publishing:post", args=[post.pk])).content.decode()
    assert montreal.strftime("%H:%M") in page
