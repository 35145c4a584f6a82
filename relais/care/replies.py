"""Saved replies in the composer: approved reply and crisis templates, suggested by intent,
lines, open incident and routing rules, crisis ones first in crisis mode, searchable by
shortcut, filled from the conversation, in the network's length."""

from __future__ import annotations

from dataclasses import dataclass, field

from relais.care.models import RuleMatch
from relais.care.routing import fold
from relais.wording.models import Template, TemplateCategory, TemplateState
from relais.wording.rendering import MissingVariables, render

MAX_SHOWN = 12


@dataclass
class SavedReply:
    template: Template
    text: str  # filled; unfilled variables stay as {name}, listed in `missing`
    missing: list[str] = field(default_factory=list)
    short: bool = False  # the short variant, because the full text is too long
    too_long: bool = False  # even the chosen text exceeds the network's limit
    length: int = 0
    reasons: list[str] = field(default_factory=list)  # why it is suggested
    pinned: bool = False  # crisis template in crisis mode


def conversation_values(conversation) -> tuple[dict[str, object], list]:
    """The variables a conversation can fill, and the active incidents on its lines."""
    from relais.inbox.models import Direction
    from relais.incidents.selectors import active_incidents_affecting

    contact = conversation.contact
    routes = list(conversation.lines.order_by("short_name"))
    latest = conversation.messages.filter(direction=Direction.IN).order_by("-created_at").first()
    stops = [pair[0] for pair in ((latest.triage or {}).get("stops", []) if latest else [])]
    incidents = active_incidents_affecting(
        organization_id=conversation.organization_id, route_ids=[r.pk for r in routes]
    )
    incident = incidents[-1] if incidents else None
    values: dict[str, object] = {
        "author": contact.display_name or f"@{contact.handle}",
        "author_name": contact.display_name or f"@{contact.handle}",
        "name": contact.display_name or f"@{contact.handle}",
        "handle": f"@{contact.handle}",
        "line": routes[0].short_name if routes else None,
        "lines": ", ".join(r.short_name for r in routes) or None,
        "stop": stops[0] if stops else None,
        "incident": incident.title if incident else None,
        "cause": (incident.cause or None) if incident else None,
    }
    return values, incidents


def _fill(text: str, values: dict[str, object]) -> tuple[str, list[str]]:
    try:
        return render(text, values), []
    except MissingVariables as exc:
        # Fill what is known; leave {name} for the rest so the agent sees and types it.
        known = {k: v for k, v in values.items() if v is not None and str(v).strip()}
        partial = {**known, **{n: "{" + n + "}" for n in exc.names}}
        return render(text, partial), exc.names


def saved_replies(*, conversation, q: str = "", crisis: bool | None = None) -> list[SavedReply]:
    from relais.channels.registry import connector_for
    from relais.listening.selectors import crisis_active

    org_id = conversation.organization_id
    if crisis is None:
        crisis = crisis_active(organization_id=org_id)
    qs = Template.objects.filter(
        organization_id=org_id,
        state=TemplateState.APPROVED,
        category__in=[TemplateCategory.REPLY, TemplateCategory.CRISIS],
    ).order_by("key", "language", "-version")
    latest: dict[tuple[str, str], Template] = {}
    for t in qs:
        latest.setdefault((t.key, t.language), t)
    templates = list(latest.values())
    lang = conversation.lang or conversation.organization.language
    if any(t.language == lang for t in templates):
        templates = [t for t in templates if t.language == lang]
    query = fold(q.strip())
    if query.startswith("/"):
        templates = [t for t in templates if fold(t.shortcut).startswith(query)]
    elif query:
        templates = [
            t
            for t in templates
            if query in fold(t.name) or query in fold(t.text) or query in fold(t.shortcut)
        ]
    values, incidents = conversation_values(conversation)
    incident_types = {i.type for i in incidents}
    suggested_by_rule = set(
        RuleMatch.objects.filter(
            conversation=conversation, rule__template__isnull=False
        ).values_list("rule__template__key", flat=True)
    )
    connector = connector_for(conversation.account)
    limit = connector.effective_limits().message_length
    out = []
    for t in templates:
        reply = SavedReply(template=t, text="")
        reply.pinned = crisis and t.category == TemplateCategory.CRISIS
        if reply.pinned:
            reply.reasons.append("crisis")
        if t.key in suggested_by_rule:
            reply.reasons.append("rule")
        if incident_types & set(t.incident_types or []):
            reply.reasons.append("incident")
        if conversation.intent and conversation.intent in (t.intents or []):
            reply.reasons.append("intent")
        text, missing = _fill(t.text, values)
        if connector.text_length(text) > limit and t.short_text:
            text, missing = _fill(t.short_text, values)
            reply.short = True
        reply.text, reply.missing = text, missing
        reply.length = connector.text_length(text)
        reply.too_long = reply.length > limit
        out.append(reply)
    rank = {"crisis": 0, "rule": 1, "incident": 2, "intent": 3}
    out.sort(
        key=lambda r: (
            not r.pinned,
            min((rank[x] for x in r.reasons), default=9),
            r.template.name.casefold(),
        )
    )
    return out[:MAX_SHOWN]


def template_used(*, message, membership, template_id: int) -> None:
    """A reply was written from a saved reply: audit it, and when the template answers an
    active incident on the conversation's lines, link the conversation to that incident (one
    timeline entry, in the incidents part's format; the incident page then shows every
    message of its linked conversations)."""
    from django.db import transaction

    from relais.accounts.models import audit
    from relais.incidents.models import TimelineEntry, TimelineKind

    template = Template.objects.filter(
        organization_id=membership.organization_id, pk=template_id
    ).first()
    if template is None:
        return
    conversation = message.conversation
    with transaction.atomic():
        _values, incidents = conversation_values(conversation)
        linked = [i for i in incidents if i.type in (template.incident_types or [])]
        for incident in linked:
            if incident.conversations.filter(pk=conversation.pk).exists():
                continue
            incident.conversations.add(conversation)
            TimelineEntry.objects.create(
                incident=incident,
                kind=TimelineKind.CONVERSATION,
                actor_id=membership.user_id,
                text=conversation.preview,
                data={
                    "conversation_id": conversation.pk,
                    "handle": conversation.contact.handle,
                    "network": conversation.account.network,
                    "via": "saved_reply",
                    "template": template.key,
                },
                created_at=message.created_at,
            )
        audit(
            organization_id=membership.organization_id,
            actor_id=membership.user_id,
            action="reply.template_used",
            obj=message,
            text=template.name,
            data={
                "template": template.pk,
                "key": template.key,
                "version": template.version,
                "incidents": [i.pk for i in linked],
            },
        )
