"""The demo organisation's approved templates: what a transit operator has ready before the
bad morning (strike, passenger taken ill, back to normal, the crisis procedure)."""

from __future__ import annotations

from datetime import timedelta

from relais.accounts.models import Membership, Organization, Role
from relais.common.timeutils import now
from relais.wording.models import Template, TemplateState

TEMPLATES = [
    # key, name, category, language, incident types, text, short text
    (
        "greve",
        "Grève",
        "traffic",
        "fr",
        ["strike"],
        "Mouvement social ce matin : le trafic est perturbé sur les lignes {line}. Nous vous "
        "conseillons de différer vos déplacements si vous le pouvez. Le détail ligne par "
        "ligne, mis à jour en continu : {incident_url}",
        "Grève : trafic perturbé lignes {line}. Détail : {incident_url}",
    ),
    (
        "greve",
        "Strike",
        "traffic",
        "en",
        ["strike"],
        "Industrial action this morning: service is disrupted on lines {line}. Please delay "
        "your journey if you can. Line-by-line details, updated as we go: {incident_url}",
        "Strike: service disrupted on lines {line}. Details: {incident_url}",
    ),
    (
        "malaise-voyageur",
        "Malaise voyageur",
        "traffic",
        "fr",
        ["passenger_ill"],
        "Ligne {line} : trafic interrompu en raison d'un malaise voyageur. Les secours sont en "
        "route ; reprise estimée vers {eta}. Merci de votre patience.",
        "{line} interrompue (malaise voyageur), reprise vers {eta}.",
    ),
    (
        "malaise-voyageur-pedagogie",
        "Malaise voyageur : pourquoi le train attend",
        "reply",
        "fr",
        ["passenger_ill"],
        "Nos agents ne sont pas médecins : seuls les secours peuvent déplacer une personne "
        "prise d'un malaise. Ils sont en route et le train repartira dès sa prise en charge. "
        "Merci de votre compréhension.",
        "",
    ),
    (
        "point-de-situation",
        "Point de situation",
        "traffic",
        "fr",
        ["strike", "disruption", "technical", "accident", "passenger_ill", "weather"],
        "Point de situation lignes {line} : reprise progressive du trafic, retour à la normale "
        "prévu vers {eta}. Détail : {incident_url}",
        "{line} : reprise progressive, normale vers {eta}.",
    ),
    (
        "retour-normale",
        "Retour à la normale",
        "traffic",
        "fr",
        [],
        "Le trafic est revenu à la normale sur les lignes {line}. Merci de votre patience.",
        "",
    ),
    (
        "procedure-crise",
        "Procédure de sécurité (colis suspect)",
        "crisis",
        "fr",
        ["security"],
        "Un périmètre de sécurité est en place à {place} suite à un bagage abandonné : c'est "
        "la procédure habituelle. Le trafic est interrompu le temps de la levée de doute. "
        "Merci de suivre les consignes des agents. Infos : {incident_url}",
        "Périmètre de sécurité à {place} (bagage abandonné, procédure habituelle). {incident_url}",
    ),
]


def load_templates(org: Organization) -> int:
    """Approved by the supervisor, owned by the administrator; idempotent."""
    admin = (
        Membership.objects.filter(organization=org, role=Role.ADMIN).select_related("user").first()
    )
    supervisor = (
        Membership.objects.filter(organization=org, role=Role.SUPERVISOR)
        .select_related("user")
        .first()
    )
    made = 0
    for key, name, category, language, types, text, short in TEMPLATES:
        _template, created = Template.objects.get_or_create(
            organization=org,
            key=key,
            language=language,
            version=1,
            defaults={
                "name": name,
                "category": category,
                "incident_types": types,
                "text": text,
                "short_text": short,
                "state": TemplateState.APPROVED,
                "owner": admin.user if admin else None,
                "approved_by": supervisor.user if supervisor else None,
                "approved_at": now(),
                "review_at": (now() + timedelta(days=180)).date(),
            },
        )
        made += created
    return made
