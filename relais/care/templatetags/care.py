"""The SLA clock in the inbox list and the conversation's side panel."""

from __future__ import annotations

from django import template

from relais.care import selectors
from relais.care.models import HandOff
from relais.care.sla import colour
from relais.common.timeutils import now

register = template.Library()


@register.inclusion_tag("care/_sla_chip.html", takes_context=True)
def sla_chip(context, conversation, conversations=None):
    """One query for the whole list: the clocks of every listed conversation are loaded on
    the first chip and kept for the rest of the render."""
    cache = context.render_context.get("care_clocks")
    if cache is None or conversation.pk not in cache:
        # Every listed conversation is a key, with or without a clock: a conversation with
        # no clock does not ask again (it used to, one query per such row).
        ids = [c.pk for c in (conversations or [conversation])]
        if conversation.pk not in ids:
            ids.append(conversation.pk)
        clocks = selectors.clocks_by_conversation(ids)
        cache = {**(cache or {}), **{pk: clocks.get(pk) for pk in ids}}
        context.render_context["care_clocks"] = cache
    clock = cache[conversation.pk]
    return {
        "clock": clock,
        "colour": colour(clock, now()),
        "organization": context.get("organization"),
    }


@register.inclusion_tag("care/_side.html", takes_context=True)
def care_side(context, conversation):
    clock = selectors.clocks_by_conversation([conversation.pk]).get(conversation.pk)
    handoffs = list(
        HandOff.objects.filter(conversation=conversation)
        .select_related("from_user", "to_user")
        .order_by("-created_at")[:3]
    )
    return {
        "clock": clock,
        "colour": colour(clock, now()),
        "handoffs": handoffs,
        "conversation": conversation,
        "organization": context.get("organization"),
    }
