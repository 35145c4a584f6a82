"""{{ value|triage_label:"intent" }}: a triage value as people read it."""

from django import template

from relais.triage.labels import LABELS

register = template.Library()


@register.filter
def triage_label(value: str, field: str) -> str:
    return str(LABELS.get(field, {}).get(value, value))
