"""The conflict guard, with scenario S5: a promotional post about a station of line B is
held by an incident on line B, released when the incident is closed; crisis mode holds
every promotional post."""

# ruff: noqa: S101

from datetime import timedelta

import pytest
from django.core import mail

from relais.accounts.models import AuditEntry
from relais.common.timeutils import now
from relais.listening.models import CrisisMode
from relais.publishing import guard
from relais.publishing.editorial import actions as editorial
from relais.publishing.models import HoldKind, Publication, PublicationHold, PublicationState
from relais.triage import service as triage_service
from tests.publishing.part2 import incident, resolve, route, stop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_triager():
    triage_service._cache.clear()
    yield
    triage_service._cache.clear()


@pytest.fixture
def network(personas):
    b = route(personas.org, "B", "0002")
    a = route(personas.org, "A", "0001")
    station = stop(personas.org, "Jacques Cartier")
    # The triage recogniser reads the network from the latest feed.
    from relais.transit.models import Feed

    Feed.objects.create(organization=personas.org, source="test")
    return {"A": a, "B": b, "station": station}


def _post(personas, text, *, hours=2.5, category="promotion", lines=(), author=None):
    return editorial.post_create(
        membership=author or personas.supervisor,
        text=text,
        category=category,
        scheduled_at=now() + timedelta(hours=hours),
        line_ids=[r.pk for r in lines],
    )


def test_s5_incident_holds_the_renovation_post_and_closing_releases_it(
    personas, network, django_capture_on_commit_callbacks, monkeypatch
):
    # 11:00 post scheduled before the incident (it is 08:30 now: 2.5 h before).
    post = _post(
        personas,
        "Découvrez la station Jacques Cartier rénovée sur la ligne B !",
        author=personas.agent_a,
    )
    assert post.state == PublicationState.AWAITING_APPROVAL
    editorial.post_approve(membership=personas.supervisor, publication=post)
    post.refresh_from_db()
    assert post.state == PublicationState.SCHEDULED

    # 08:30: an incident on line B, expected to be over at 10:30.
    on_b = incident(personas.org, lines=[network["B"]], ends_in=timedelta(hours=2))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        held, released = guard.sweep()
    assert (held, released) == (1, 0)
    post.refresh_from_db()
    assert post.state == PublicationState.HELD
    assert on_b.title in post.held_reason
    hold = PublicationHold.objects.get(publication=post)
    assert hold.kind == HoldKind.INCIDENT
    assert list(hold.incidents.all()) == [on_b]
    # The proposed slot: after the expected end, with a margin, on a quarter of an hour.
    assert hold.proposed_at >= on_b.expected_end_at + guard.MARGIN_AFTER_INCIDENT
    assert hold.proposed_at.minute % 15 == 0
    # The author is told why, by e-mail and in the app.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [personas.agent_a.user.email]
    assert on_b.title in mail.outbox[0].body
    assert AuditEntry.objects.filter(action="publication.held", object_id=str(post.pk)).exists()

    # Nothing goes out while held, even once due.
    Publication.objects.filter(pk=post.pk).update(scheduled_at=now() - timedelta(minutes=1))
    started = []
    monkeypatch.setattr(editorial, "_start", lambda p: started.append(p.pk) or p)
    assert editorial.publish_due() == []

    # A second sweep while the incident is open changes nothing.
    assert guard.sweep() == (0, 0)

    # The incident is closed: the post is released and goes out.
    resolve(on_b)
    assert guard.sweep() == (0, 1)
    post.refresh_from_db()
    assert post.state == PublicationState.SCHEDULED
    assert post.held_reason == ""
    assert editorial.publish_due() == [post.pk]
    assert started == [post.pk]


def test_s5_the_line_is_found_in_the_text_without_being_ticked(personas, network):
    post = _post(personas, "Travaux de rénovation de la ligne B : venez voir le chantier")
    incident(personas.org, lines=[network["B"]])
    assert guard.sweep()[0] == 1
    post.refresh_from_db()
    assert post.state == PublicationState.HELD


def test_a_stop_named_in_the_text_is_found(personas, network):
    on_stop = incident(personas.org, stops=[network["station"]])
    post = _post(personas, "Portes ouvertes à Jacques Cartier samedi")
    post.refresh_from_db()
    # Created during the incident and planned within the day: held at once.
    assert post.state == PublicationState.HELD
    assert on_stop.title in post.held_reason


def test_a_place_of_the_incident_in_the_text_is_found(personas, network):
    incident(personas.org, places=["Place de la République"])
    post = _post(personas, "Concert place de la République ce soir")
    post.refresh_from_db()
    assert post.state == PublicationState.HELD


def test_an_unrelated_line_or_a_traffic_post_is_not_held(personas, network):
    incident(personas.org, lines=[network["B"]])
    other_line = _post(personas, "Nouveau mobilier sur la ligne A", lines=[network["A"]])
    traffic = _post(personas, "Ligne B : travaux cet été", category="traffic")
    for post in (other_line, traffic):
        post.refresh_from_db()
        assert post.state == PublicationState.SCHEDULED


def test_a_post_after_the_incident_expected_end_is_not_held(personas, network):
    incident(personas.org, lines=[network["B"]], ends_in=timedelta(hours=1))
    later = _post(personas, "La ligne B rénovée", hours=5, lines=[network["B"]])
    later.refresh_from_db()
    assert later.state == PublicationState.SCHEDULED


def test_institutional_post_is_held_by_an_incident_but_not_by_crisis_mode(personas, network):
    CrisisMode.objects.create(organization=personas.org, active=True, since=now())
    post = _post(personas, "Le conseil vote le budget", category="institutional")
    post.refresh_from_db()
    assert post.state == PublicationState.SCHEDULED
    incident(personas.org, lines=[network["B"]])
    on_b = _post(personas, "Le conseil inaugure la ligne B", category="institutional")
    on_b.refresh_from_db()
    assert on_b.state == PublicationState.HELD


def test_s5_crisis_mode_holds_every_promotional_post_and_its_end_releases_them(personas, network):
    posts = [
        _post(personas, "Jeu concours : gagnez un abonnement"),
        _post(personas, "Nouvelle appli mobile", hours=8),
    ]
    crisis = CrisisMode.objects.create(organization=personas.org, active=True, since=now())
    held, _released = guard.sweep()
    assert held == 2
    for post in posts:
        post.refresh_from_db()
        assert post.state == PublicationState.HELD
        assert PublicationHold.objects.get(publication=post).kind == HoldKind.CRISIS
    # Another organisation's crisis holds nothing here, and the reverse.
    assert guard.sweep() == (0, 0)
    crisis.active = False
    crisis.save(update_fields=["active"])
    assert guard.sweep() == (0, 2)
    for post in posts:
        post.refresh_from_db()
        assert post.state == PublicationState.SCHEDULED


def test_another_organisations_incident_holds_nothing(personas, network):
    theirs = route(personas.other_org, "B", "0002")
    incident(personas.other_org, lines=[theirs])
    post = _post(personas, "La ligne B rénovée", lines=[network["B"]])
    post.refresh_from_db()
    assert post.state == PublicationState.SCHEDULED


def test_accepting_the_proposed_time_moves_the_post_and_keeps_it_approved(personas, network):
    incident(personas.org, lines=[network["B"]], ends_in=timedelta(hours=3))
    post = _post(personas, "La ligne B rénovée", lines=[network["B"]], author=personas.agent_a)
    editorial.post_approve(membership=personas.supervisor, publication=post)
    post.refresh_from_db()
    assert post.state == PublicationState.HELD
    hold = PublicationHold.objects.get(publication=post)
    editorial.post_accept_proposal(membership=personas.agent_a, publication=post)
    post.refresh_from_db()
    assert post.scheduled_at == hold.proposed_at
    # Held posts return to where they were: approved, now at a time clear of the incident.
    assert post.state == PublicationState.SCHEDULED
    assert guard.sweep() == (0, 0)
    hold.refresh_from_db()
    assert hold.released_at is not None


def test_no_expected_end_means_no_proposed_slot_but_release_on_resolution(personas, network):
    open_ended = incident(personas.org, lines=[network["B"]], ends_in=None)
    post = _post(personas, "La ligne B rénovée", lines=[network["B"]])
    hold = PublicationHold.objects.get(publication=post)
    assert hold.proposed_at is None
    resolve(open_ended)
    assert guard.sweep() == (0, 1)


def test_the_author_moving_an_approved_post_elsewhere_needs_approval_again(personas, network):
    post = _post(personas, "Nouvelle appli", author=personas.agent_a)
    editorial.post_approve(membership=personas.supervisor, publication=post)
    editorial.post_reschedule(
        membership=personas.agent_a, publication=post, scheduled_at=now() + timedelta(days=3)
    )
    post.refresh_from_db()
    assert post.state == PublicationState.AWAITING_APPROVAL
    assert post.approved_by is None


def test_crisis_mode_signal_holds_at_once(personas, network, django_capture_on_commit_callbacks):
    from relais.listening.signals import crisis_mode_changed

    post = _post(personas, "Jeu concours : gagnez un abonnement")
    CrisisMode.objects.create(organization=personas.org, active=True, since=now())
    with django_capture_on_commit_callbacks(execute=True):
        crisis_mode_changed.send(
            sender=CrisisMode, organization_id=personas.org.pk, active=True, by_user_id=None
        )
    post.refresh_from_db()
    assert post.state == PublicationState.HELD
