"""The incidents card of the inbox's side panel: linked incidents, one-click suggestions."""

from __future__ import annotations

from django import template

from relais.incidents import selectors
from relais.incidents.actions import INCIDENT_ROLES

register = template.Library()


def side_context(conversation, membership) -> dict:
    linked = list(conversation.incidents.order_by("-started_at")[:10])
    return {
        "conversation": conversation,
        "linked": linked,
        "suggested": selectors.suggested_incidents(conversation=conversation),
        "can_link": membership is not None and membership.role in INCIDENT_ROLES,
    }


@register.inclusion_tag("incidents/_side.html", takes_context=True)
def incidents_side(context, conversation) -> dict:
    return side_context(conversation, context.get("membership"))


@register.filter
def elapsed(publication) -> str:
    """Button to last channel's acceptance, in seconds: '2.4 s'."""
    if not (publication.requested_at and publication.completed_at):
        return ""
    seconds = (publication.completed_at - publication.requested_at).total_seconds()
    return f"{seconds:.1f} s"


@register.filter
def seconds_after(later, earlier) -> str:
    if not (later and earlier):
        return ""
    return f"{(later - earlier).total_seconds():.1f} s"


@register.filter
def publication_kind(value: str) -> str:
    """A publication kind stored on a timeline entry, in words."""
    from relais.publishing.models import PublicationKind

    try:
        return str(PublicationKind(value).label)
    except ValueError:
        return value
