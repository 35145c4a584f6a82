"""The ingest pipeline's triage step: every inbound message classified before the inbox
shows it; its conversation takes the newest intent and the highest urgency and priority."""

from __future__ import annotations

from collections import defaultdict

from relais.channels.pipeline import Batch
from relais.common.db import update_rows
from relais.triage.engine import Triager
from relais.triage.service import triager_for

URGENCY_RANK = {"": 0, "normal": 1, "blocking": 2, "safety": 3}


def triage_messages(batch: Batch) -> None:
    from relais.inbox.models import Conversation, Message, Status
    from relais.transit.models import Route

    items = [i for i in batch.items if not i.skip and i.message is not None]
    if not items:
        return
    messages, conversations = [], {}
    triagers: dict[int, Triager] = {}
    lines: dict[int, set[str]] = defaultdict(set)  # conversation id -> GTFS route ids
    for item in items:
        message, conversation = item.message, item.conversation
        # One look-up of the organisation's triager per batch, not per message.
        if message.organization_id not in triagers:
            triagers[message.organization_id] = triager_for(message.organization_id)
        result = triagers[message.organization_id].triage(message.text)
        message.lang, message.intent, message.sentiment = (
            result.lang,
            result.intent,
            result.sentiment,
        )
        message.urgency, message.priority = result.urgency, result.priority
        message.triage = {
            "lines": result.lines,
            "stops": result.stops,
            "places": result.places,
            "cues": result.cues,
        }
        messages.append(message)
        reopened = item.new_conversation or conversation.status == Status.NEW
        conversation.lang, conversation.intent, conversation.sentiment = (
            result.lang,
            result.intent,
            result.sentiment,
        )
        if reopened or URGENCY_RANK[result.urgency] > URGENCY_RANK.get(conversation.urgency, 0):
            conversation.urgency = result.urgency
        conversation.priority = (
            result.priority
            if item.new_conversation
            else max(conversation.priority, result.priority)
        )
        conversations[conversation.pk] = conversation
        lines[conversation.pk].update(gtfs_id for _, gtfs_id in result.lines)
    update_rows(Message, messages, ["lang", "intent", "sentiment", "urgency", "priority", "triage"])
    update_rows(
        Conversation, conversations.values(), ["lang", "intent", "sentiment", "urgency", "priority"]
    )
    wanted = {(cid, gtfs) for cid, ids in lines.items() for gtfs in ids}
    if wanted:
        org_of = {c.pk: c.organization_id for c in conversations.values()}
        routes = {
            (r.organization_id, r.gtfs_id): r.pk
            for r in Route.objects.filter(
                organization_id__in=set(org_of.values()), gtfs_id__in={g for _, g in wanted}
            )
        }
        through = Conversation.lines.through
        through.objects.bulk_create(
            [
                through(conversation_id=cid, route_id=routes[(org_of[cid], gtfs)])
                for cid, gtfs in wanted
                if (org_of[cid], gtfs) in routes
            ],
            ignore_conflicts=True,
        )
