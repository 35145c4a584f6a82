"""The routing part of the demo organisation: a few rules, flagged authors (a journalist, an
elected official, a politicised account), saved replies, and a fake operator system (S7, S9)
so that the look-ups answer in the demo without any real operator."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from relais.accounts.models import Membership, Organization
from relais.common.timeutils import now

FLAGGED = [
    # handle, display name, reach, flags, note
    ("gwen_ouestmedia", "Gwen (Ouest Média)", 48_000, ["journalist"], "Rubrique transports"),
    ("elu_mobilites", "Élu délégué aux mobilités", 9_500, ["elected"], ""),
    ("collectif_neutre", "Collectif Neutralité Maintenant", 22_000, ["politicised"], ""),
]

RULES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # name, conditions, actions
    (
        "Journalistes et élus → presse",
        {"author_flags": ["journalist", "elected"]},
        {"team": "press", "priority": 2, "tags": ["presse"]},
    ),
    (
        "Polémique d'un compte militant → surveiller sans répondre",
        {"author_flags": ["politicised"], "intents": ["polemic"]},
        {"team": "press", "lock": True, "tags": ["polemique"]},
    ),
    (
        "Sécurité → urgent",
        {"urgencies": ["safety"]},
        {"priority": 3, "tags": ["securite"], "stop": False},
    ),
    (
        "Grève → relation voyageurs, modèle grève",
        {"text_contains": ["grève", "greve"]},
        {"team": "care", "tags": ["greve"], "template": "reponse-greve"},
    ),
]

TEMPLATES = [
    # key, name, shortcut, category, text, short_text, incident types, intents
    (
        "reponse-malaise-voyageur",
        "Réponse : malaise voyageur (pédagogique)",
        "/malaise",
        "reply",
        "Bonjour {author}, la ligne {line} est interrompue pour un voyageur pris de malaise. "
        "Nos agents ne sont pas médecins : les pompiers sont en route et la personne ne peut "
        "être déplacée qu'avec leur accord. Merci de votre patience, nous vous tenons informé.",
        "{author}, ligne {line} interrompue : voyageur malade, pompiers en route. Merci de votre patience.",
        ["passenger_ill"],
        ["complaint", "question"],
    ),
    (
        "reponse-greve",
        "Réponse : grève, ligne perturbée",
        "/greve",
        "crisis",
        "Bonjour {author}, en raison d'un mouvement social, la ligne {line} est perturbée. "
        "Consultez les horaires en temps réel sur star.fr. Nous sommes désolés pour la gêne.",
        "{author}, grève : ligne {line} perturbée. Horaires en temps réel sur star.fr.",
        ["strike"],
        ["question"],
    ),
    (
        "reponse-bus-non-passe",
        "Réponse : bus non passé (après vérification)",
        "/nonpasse",
        "reply",
        "Bonjour {author}, vous avez raison : le bus de la ligne {line} n'est pas passé à "
        "l'arrêt {stop}. Nous vous prions de nous excuser.",
        "",
        [],
        ["complaint"],
    ),
]


def fake_operator_reports(organization: Organization, line: str, at: datetime) -> list[dict]:
    """The demo's operator system: one report for the asked line, 5 minutes before `at`.
    Set RELAIS_OPERATOR_REPORTS to "relais.care.demo_routing.fake_operator_reports"."""
    report_at = at - timedelta(minutes=5)
    return [
        {
            "report_id": f"DEMO-{line}-{report_at:%H%M}",
            "vehicle": "Bus 742",
            "cause": "Véhicule retiré du service (panne de porte) ; course supprimée",
            "at": report_at.isoformat(),
        }
    ]


def fake_customer_lookup(organization: Organization, reference: str) -> dict | None:
    """The demo's customer files: any reference starting with "STAR-"."""
    if not reference.upper().startswith("STAR-"):
        return None
    return {
        "name": "Camille Martin",
        "email": "camille.martin@example.org",
        "ticket": "Abonnement mensuel",
        "valid_until": (now() + timedelta(days=12)).date().isoformat(),
    }


def load_routing_demo(*, organization: Organization, teams: dict) -> None:
    from relais.care.models import AuthorProfile, RoutingRule
    from relais.inbox.models import Contact
    from relais.wording.models import Template

    t = now()
    approver = (
        Membership.objects.filter(organization=organization, role__in=["supervisor", "admin"])
        .order_by("role", "pk")
        .first()
    )
    for key, name, shortcut, category, text, short, types, intents in TEMPLATES:
        Template.objects.get_or_create(
            organization=organization,
            key=key,
            language="fr",
            version=1,
            defaults={
                "name": name,
                "shortcut": shortcut,
                "category": category,
                "text": text,
                "short_text": short,
                "state": "approved",
                "approved_at": t,
                "approved_by": approver.user if approver else None,
                "incident_types": types,
                "intents": intents,
            },
        )
    for handle, display, reach, flags, note in FLAGGED:
        contact, _ = Contact.objects.get_or_create(
            organization=organization,
            network="x",
            external_id=handle.lower(),
            defaults={
                "handle": handle,
                "display_name": display,
                "reach": reach,
                "first_seen_at": t,
                "last_seen_at": t,
            },
        )
        AuthorProfile.objects.get_or_create(
            contact=contact,
            defaults={
                "organization": organization,
                "flags": flags,
                "note": note,
                "updated_at": t,
            },
        )
    if RoutingRule.objects.filter(organization=organization).exists():
        return
    for position, (name, conditions, actions) in enumerate(RULES, start=1):
        template = None
        if actions.get("template"):
            template = Template.objects.filter(
                organization=organization, key=actions["template"], state="approved"
            ).first()
        RoutingRule.objects.create(
            organization=organization,
            name=name,
            position=position * 10,
            conditions=conditions,
            stop=actions.get("stop", True),
            team=teams.get(actions.get("team", "")),
            priority=actions.get("priority"),
            tags=actions.get("tags", []),
            template=template,
            lock=actions.get("lock", False),
        )
