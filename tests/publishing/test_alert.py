"""The one-click alert: approved phrase filled in, preview per channel, one button."""

import re

import pytest
from django.utils import translation

from relais.channels.models import Delivery
from relais.connectors.sandbox.models import SandboxPost
from relais.incidents.actions import incident_open
from relais.incidents.models import Incident
from relais.publishing.alerts import alert_preview, alert_publish, alert_values
from relais.publishing.models import Publication, PublicationState
from relais.wording.rendering import MissingVariables
from tests.incidents.helpers import approved, more_accounts, network

LONG = (
    "Mouvement social ce matin : le trafic est très perturbé sur les lignes {line}. "
    "Nous vous invitons à différer vos déplacements si possible. Les informations en temps "
    "réel sont sur notre site, ligne par ligne, et nous répondons à vos questions ici même "
    "toute la journée. Merci de votre compréhension. Détails : {incident_url}"
)
SHORT = "Grève : trafic très perturbé lignes {line}. {incident_url}"


@pytest.fixture
def setup(personas):
    net = network(personas.org)
    facebook, bluesky = more_accounts(personas.org, "facebook", "bluesky")
    strike = approved(personas.supervisor, personas.supervisor, text=LONG, short_text=SHORT)
    ill = approved(
        personas.supervisor,
        personas.supervisor,
        name="Malaise voyageur",
        text="Ligne {line} : trafic interrompu (malaise voyageur). Reprise estimée {eta}.",
        incident_types=["passenger_ill"],
    )
    return {"net": net, "facebook": facebook, "bluesky": bluesky, "strike": strike, "ill": ill}


def test_values_come_from_the_incident(personas, setup):
    net = setup["net"]
    incident = incident_open(
        membership=personas.operations,
        title="Grève",
        type="strike",
        lines=[net["C4"], net["12"]],
        cause="préavis",
    )
    values = alert_values(organization=personas.org, incident=incident)
    assert values["line"] == "12, C4"  # the network's order and values["cause"] == "préavis"
    assert values["incident_url"].endswith(f"/o/alpha/alerts/{incident.pk}/")
    assert "eta" not in values  # unknown: the page asks for it
    assert (
        alert_values(organization=personas.org, incident=incident, overrides={"eta": "10:30"})[
            "eta"
        ]
        == "10:30"
    )


def test_preview_uses_the_short_variant_where_the_text_is_too_long(personas, setup):
    values = {"line": "C4, 12", "incident_url": "https://r.example/o/alpha/alerts/1/"}
    accounts = [personas.account, setup["facebook"], setup["bluesky"]]
    with translation.override("en"):
        preview = alert_preview(template=setup["strike"], values=values, accounts=accounts)
    by_network = {c.account.network: c for c in preview.channels}
    assert by_network["facebook"].short is False and by_network["facebook"].text.startswith(
        "Mouvement social"
    )
    x = by_network["x"]
    assert x.too_long and x.short and x.sendable and x.text.startswith("Grève :")
    assert "too long" in x.reason and f"/ {x.limit}" in x.reason
    assert preview.can_publish


def test_too_long_without_short_variant_leaves_that_channel_out(personas, setup):
    template = approved(personas.supervisor, personas.supervisor, name="Long", text=LONG)
    values = {"line": "C4", "incident_url": "https://r.example/x"}
    with translation.override("en"):
        preview = alert_preview(
            template=template, values=values, accounts=[personas.account, setup["facebook"]]
        )
    x = next(c for c in preview.channels if c.account.network == "x")
    assert not x.sendable and "no short variant" in x.reason
    assert preview.can_publish  # Facebook still takes it


def test_missing_variable_is_named(personas, setup):
    preview = alert_preview(
        template=setup["ill"], values={"line": "a"}, accounts=[personas.account]
    )
    assert preview.missing == ["eta"] and not preview.can_publish
    incident = incident_open(
        membership=personas.operations,
        title="Malaise",
        type="passenger_ill",
        lines=[setup["net"]["a"]],
    )
    with pytest.raises(MissingVariables):
        alert_publish(membership=personas.operations, template=setup["ill"], incident=incident)
    assert not Publication.objects.exists()


def test_publish_opens_the_incident_and_goes_everywhere(
    personas, setup, django_capture_on_commit_callbacks
):
    net = setup["net"]
    with django_capture_on_commit_callbacks(execute=True):
        publication = alert_publish(
            membership=personas.operations,
            template=setup["strike"],
            incident_type="strike",
            lines=[net["C4"], net["12"]],
            request_key="tap-1",
        )
    publication.refresh_from_db()
    incident = Incident.objects.get()
    assert (incident.type, incident.severity, list(incident.lines.order_by("gtfs_id"))) == (
        "strike",
        "high",
        [net["C4"], net["12"]],
    )
    assert publication.state == PublicationState.PUBLISHED and publication.incident == incident
    assert publication.requested_at <= publication.completed_at
    assert f"/o/alpha/alerts/{incident.pk}/" in publication.text
    x_post = SandboxPost.objects.get(account=personas.account)
    assert x_post.text.startswith("Grève :")  # the short variant on X
    assert SandboxPost.objects.get(account=setup["facebook"]).text.startswith("Mouvement social")
    # A second tap with the same form token publishes nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        again = alert_publish(
            membership=personas.operations,
            template=setup["strike"],
            incident_type="strike",
            lines=[net["C4"]],
            request_key="tap-1",
        )
    assert again.pk == publication.pk and Delivery.objects.count() == 3
    assert Incident.objects.count() == 1


def test_closing_resolves_the_incident(personas, setup, django_capture_on_commit_callbacks):
    normal = approved(
        personas.supervisor,
        personas.supervisor,
        name="Retour à la normale",
        text="Trafic normal sur les lignes {line}.",
        incident_types=[],
    )
    with django_capture_on_commit_callbacks(execute=True):
        alert = alert_publish(
            membership=personas.operations,
            template=setup["strike"],
            incident_type="strike",
            lines=[setup["net"]["C4"]],
        )
    with django_capture_on_commit_callbacks(execute=True):
        closing = alert_publish(
            membership=personas.operations, template=normal, kind="closing", incident=alert.incident
        )
    alert.incident.refresh_from_db()
    assert alert.incident.status == "resolved" and closing.parent_id == alert.pk


# --- the page -------------------------------------------------------------------------


def test_page_for_operations_and_not_for_viewers(personas, setup, client_as):
    assert client_as(personas.viewer).get("/publishing/alert/").status_code == 403
    response = client_as(personas.operations).get("/publishing/alert/?type=strike")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Grève" in html and 'name="lines"' in html and "publish-button" in html


def test_page_button_says_which_variable_is_missing(personas, setup, client_as):
    client = client_as(personas.operations)
    data = {
        "type": "passenger_ill",
        "lines": [setup["net"]["a"].pk],
        "template": setup["ill"].pk,
        "channels_chosen": "1",
        "accounts": [personas.account.pk],
    }
    response = client.post("/publishing/alert/", data, headers={"HX-Request": "true"})
    html = response.content.decode()
    button = re.search(r'<button[^>]*id="publish-button"[^>]*>([^<]*)</button>', html)
    assert button and "disabled" in button.group(0)
    assert "{eta}" in button.group(1)
    # Pressed anyway with htmx: the reason is shown where the button is.
    response = client.post("/publishing/alert/publish/", data, headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="publish-error"' in response.content.decode()
    # Published anyway (no JavaScript): refused, with the same reason, nothing sent.
    response = client.post("/publishing/alert/publish/", data)
    assert response.status_code == 400 and "{eta}" in response.content.decode()
    assert not Publication.objects.exists()
    # With the expected end typed in, it goes.
    data["v_eta"] = "10h30"
    response = client.post("/publishing/alert/publish/", data)
    publication = Publication.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/publishing/{publication.pk}/"
    assert "Reprise estimée 10h30" in publication.text


def test_page_preview_says_too_long_and_shows_the_short_variant(personas, setup, client_as):
    response = client_as(personas.operations).post(
        "/publishing/alert/",
        {"type": "strike", "lines": [setup["net"]["C4"].pk], "template": setup["strike"].pk},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "the short variant goes out" in html or "la variante courte" in html
    assert "Grève : trafic très perturbé lignes C4" in html


def test_publication_page_shows_time_and_failures(
    personas, setup, client_as, django_capture_on_commit_callbacks
):
    from relais.channels.models import ChannelAccount

    ChannelAccount.objects.filter(pk=setup["bluesky"].pk).update(
        config={"flavour": "bluesky", "reject": "banned"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        publication = alert_publish(
            membership=personas.operations,
            template=setup["strike"],
            incident_type="strike",
            lines=[setup["net"]["C4"]],
        )
    client = client_as(personas.operations)
    html = client.get(f"/publishing/{publication.pk}/").content.decode()
    assert 'id="elapsed"' in html and "refused by the network: banned" in html
    target = publication.targets.get(account=setup["bluesky"])
    assert client.post(f"/publishing/{publication.pk}/retry/{target.pk}/").status_code == 302
    assert (
        client_as(personas.viewer)
        .post(f"/publishing/{publication.pk}/retry/{target.pk}/")
        .status_code
        == 403
    )


def test_operations_publishes_but_cannot_answer(
    personas, client_as, django_capture_on_commit_callbacks
):
    from tests.api.helpers import make_conversation

    conversation = make_conversation(personas.account, django_capture_on_commit_callbacks)
    response = client_as(personas.operations).post(
        f"/inbox/c/{conversation.pk}/reply/", {"text": "Bonjour"}
    )
    assert response.status_code == 403
