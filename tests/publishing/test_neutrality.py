"""The neutrality report, with scenario S6's part: an elected official's post about a new
park is shared; the report shows how often each official was put forward this month."""

# ruff: noqa: S101

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from relais.publishing.models import NeutralityPerson, PublicationState
from relais.publishing.neutrality import neutrality_report, person_pattern
from tests.publishing.part2 import published

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def officials(personas):
    mayor = NeutralityPerson.objects.create(
        organization=personas.org, name="Hélène Martin", title="Maire", aliases=["@HMartinMaire"]
    )
    deputy = NeutralityPerson.objects.create(
        organization=personas.org,
        name="Marc Petit",
        title="Adjoint aux parcs",
        aliases=["M. Petit"],
    )
    opposition = NeutralityPerson.objects.create(
        organization=personas.org, name="Sophie Durand", title="Conseillère"
    )
    return mayor, deputy, opposition


def test_s6_the_shared_post_counts_for_the_official_this_month(personas, officials):
    mayor, deputy, opposition = officials
    nov = datetime(2026, 11, 12, 10, tzinfo=PARIS)
    dec = datetime(2026, 12, 1, 9, tzinfo=PARIS)
    # The official's post about the new park, shared by the city hall's account.
    published(personas.org, "RT @HMartinMaire : le nouveau parc des Gayeulles ouvre samedi !", dec)
    published(personas.org, "helene martin et Marc Petit inaugurent le parc", dec)
    published(personas.org, "Hélène Martin, Hélène Martin : deux fois, une publication", nov)
    published(personas.org, "Marc Petitjean n'est pas Marc Petit ? si : M. Petit", nov)
    published(personas.org, "Rien sur personne", dec)
    # Not published, or another organisation's: not counted.
    draft = published(personas.org, "Hélène Martin en brouillon", dec)
    draft.state = PublicationState.DRAFT
    draft.save()
    published(personas.other_org, "Hélène Martin chez les voisins", dec)

    report = neutrality_report(
        organization_id=personas.org.pk, months=["2026-11", "2026-12"], zone="Europe/Paris"
    )
    rows = {person.name: (counts, total) for person, counts, total in report.rows}
    assert rows["Hélène Martin"] == ([1, 2], 3)
    assert rows["Marc Petit"] == ([1, 1], 2)
    assert rows["Sophie Durand"] == ([0, 0], 0)
    assert report.publications == 5


def test_month_is_the_organisations_month(personas, officials):
    # 23:30 in Paris on 30 November is 22:30 UTC: November, not December.
    published(personas.org, "Hélène Martin", datetime(2026, 11, 30, 23, 30, tzinfo=PARIS))
    report = neutrality_report(
        organization_id=personas.org.pk, months=["2026-11", "2026-12"], zone="Europe/Paris"
    )
    assert report.rows[0][0].name == "Hélène Martin"
    assert report.rows[0][1] == [1, 0]


def test_whole_words_only():
    person = NeutralityPerson(name="Marc Petit", aliases=["@mpetit"])
    pattern = person_pattern(person)
    assert pattern.search("marc petit")
    assert pattern.search("merci @mpetit !")
    assert pattern.search("mpetit")
    assert not pattern.search("marc petitjean")
    assert not pattern.search("jean-marc petitot")
    assert not pattern.search("@mpetitou")


def test_page_and_csv(personas, officials, client_as):
    published(personas.org, "=cmd Hélène Martin", datetime(2026, 12, 1, 9, tzinfo=PARIS))
    NeutralityPerson.objects.create(organization=personas.org, name="=HYPERLINK(1)")
    client = client_as(personas.viewer)
    page = client.get(
        reverse("publishing:neutrality") + "?until=2026-12&months=2", HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert page.status_code == 200
    assert "Hélène Martin" in page.content.decode()
    assert "Télécharger en CSV" in page.content.decode()  # French, the default
    response = client.get(reverse("publishing:neutrality_csv") + "?until=2026-12&months=2")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["person", "title", "2026-11", "2026-12", "total"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["Hélène Martin"][2:] == ["0", "1", "1"]
    assert "'=HYPERLINK(1)" in by_name  # no formula in a spreadsheet


def test_only_supervisors_edit_the_list(personas, client_as):
    url = reverse("publishing:neutrality_people")
    response = client_as(personas.agent_a).post(url, {"name": "X"})
    assert response.status_code == 403
    response = client_as(personas.supervisor).post(
        url, {"name": "Paul Roux", "title": "Adjoint", "aliases": "P. Roux, @proux"}
    )
    assert response.status_code == 302
    person = NeutralityPerson.objects.get(organization=personas.org)
    assert person.aliases == ["P. Roux", "@proux"]
    # The other organisation cannot remove it.
    response = client_as(personas.outsider).post(url, {"remove": str(person.pk)})
    assert response.status_code == 404
    assert NeutralityPerson.objects.filter(pk=person.pk).exists()
    client_as(personas.supervisor).post(url, {"remove": str(person.pk)})
    assert not NeutralityPerson.objects.filter(pk=person.pk).exists()
