from django.test import Client

from relais.demo.setup import load_demo
from relais.wording.actions import KNOWN_VARIABLES
from relais.wording.models import Template
from relais.wording.rendering import variables


def test_demo_has_approved_templates_and_a_regulator(db):
    info = load_demo()
    templates = Template.objects.filter(organization=info.organization)
    assert {t.key for t in templates} >= {
        "greve",
        "malaise-voyageur",
        "retour-normale",
        "procedure-crise",
    }
    assert all(t.state == "approved" and t.approved_by for t in templates)
    for t in templates:  # nothing the one-click page could not fill
        assert set(variables(t.text + t.short_text)) <= set(KNOWN_VARIABLES), t.key
    load_demo()  # idempotent
    assert Template.objects.filter(organization=info.organization).count() == templates.count()
    client = Client()
    client.force_login(info.organization.memberships.get(user__username="regulation").user)
    page = client.get("/publishing/alert/?type=strike")
    assert page.status_code == 200 and "Grève" in page.content.decode()
