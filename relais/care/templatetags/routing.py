"""Template tags that put the routing part into the inbox's slots without the inbox's views
knowing it: the side card (profile, advice, lock, operator look-ups), the composer's saved
replies and the list chips."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django import template

from relais.accounts.models import Membership, Role
from relais.care.models import AuthorFlag, CustomerLookup, RuleMatch

register = template.Library()

SUPERVISING = {Role.ADMIN, Role.SUPERVISOR}


def side_context(membership: Membership | None, conversation) -> dict:
    from relais.care.operator import guess_line_and_time
    from relais.care.profile import author_profile

    line, at = guess_line_and_time(conversation)
    zone = ZoneInfo(conversation.organization.timezone)
    return {
        "conversation": conversation,
        "profile": author_profile(conversation=conversation),
        "can_supervise": membership is not None and membership.role in SUPERVISING,
        "can_answer": membership is not None and membership.can_answer,
        "flag_choices": AuthorFlag.choices,
        "operator_line": line,
        "operator_at": at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "matches": RuleMatch.objects.filter(conversation=conversation)
        .select_related("rule")
        .order_by("-created_at")[:5],
        "tags": conversation.tags.order_by("name"),
        "lookups": CustomerLookup.objects.filter(conversation=conversation).order_by("-created_at")[
            :3
        ]
        if conversation.is_private
        else [],
    }


@register.inclusion_tag("care/profile/_side.html", takes_context=True)
def routing_side(context, conversation):
    return side_context(context.get("membership"), conversation)


@register.inclusion_tag("care/routing/_composer.html", takes_context=True)
def routing_composer(context, conversation):
    from relais.care.replies import saved_replies

    return {
        "conversation": conversation,
        "replies": saved_replies(conversation=conversation),
        "locked": conversation.locked_at is not None,
    }


@register.inclusion_tag("care/routing/_chips.html")
def routing_chips(conversation):
    # The inbox list's page (relais.inbox.selectors.conversation_page) reads the tag names
    # of all its rows in one query.
    names = getattr(conversation, "list_tags", None)
    if names is None:
        names = [t.name for t in conversation.tags.all()]
    return {"conversation": conversation, "tags": names}
