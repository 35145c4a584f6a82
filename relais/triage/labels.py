"""How triage values read in the interface, in French and English."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "intent": {
        "question": _("Question"),
        "complaint": _("Complaint"),
        "incident_report": _("Incident report"),
        "service_request": _("Service request"),
        "praise": _("Praise"),
        "polemic": _("Polemic"),
        "spam_abuse": _("Spam or abuse"),
        "other": _("Other"),
    },
    "sentiment": {"negative": _("Negative"), "neutral": _("Neutral"), "positive": _("Positive")},
    "urgency": {"safety": _("Safety"), "blocking": _("Blocking"), "normal": _("Normal")},
}


def choices(field: str) -> list[tuple[str, str]]:
    return [(value, str(label)) for value, label in LABELS[field].items()]
