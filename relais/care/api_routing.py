"""The routing part over HTTP: author profile and advice, lock / unlock, author flags,
operator reports, routing rules (mounted under relais/care/api.py's router)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from ninja import Router, Schema, Status

from relais.accounts.models import Membership
from relais.accounts.permissions import access_conversation, access_routing_rule
from relais.care import operator, profile, routing
from relais.care.models import RoutingRule

router = Router(tags=["routing"])


def _membership(request: HttpRequest) -> Membership:
    return request.auth  # type: ignore[attr-defined, return-value]


class ProfileOut(Schema):
    contact_id: int
    handle: str
    reach: int
    flags: list[str]
    note: str
    conversations: int
    messages_30d: int
    per_week: float
    sentiments: dict[str, int]
    signals: list[str]
    advice: str
    reasons: list[str]
    locked: bool
    lock_reason: str


def _profile_out(conversation) -> dict[str, Any]:
    p = profile.author_profile(conversation=conversation)
    return {
        "contact_id": p.contact.pk,
        "handle": p.contact.handle,
        "reach": p.contact.reach,
        "flags": p.flags,
        "note": p.note,
        "conversations": p.conversations,
        "messages_30d": p.messages_30d,
        "per_week": p.per_week,
        "sentiments": p.sentiments,
        "signals": [str(s) for s in p.signals],
        "advice": p.advice,
        "reasons": [str(r) for r in p.reasons],
        "locked": conversation.locked_at is not None,
        "lock_reason": conversation.lock_reason,
    }


@router.get("/conversations/{conversation_id}/profile", response=ProfileOut)
def conversation_profile(request: HttpRequest, conversation_id: int):
    conversation = access_conversation(_membership(request), conversation_id)
    return _profile_out(conversation)


class LockIn(Schema):
    reason: str = ""


@router.post("/conversations/{conversation_id}/lock", response=ProfileOut)
def conversation_lock(request: HttpRequest, conversation_id: int, body: LockIn):
    conversation = access_conversation(_membership(request), conversation_id)
    conversation = profile.conversation_lock(
        conversation=conversation, membership=_membership(request), reason=body.reason[:300]
    )
    return _profile_out(access_conversation(_membership(request), conversation_id))


@router.post("/conversations/{conversation_id}/unlock", response=ProfileOut)
def conversation_unlock(request: HttpRequest, conversation_id: int):
    conversation = access_conversation(_membership(request), conversation_id)
    profile.conversation_unlock(conversation=conversation, membership=_membership(request))
    return _profile_out(access_conversation(_membership(request), conversation_id))


class FlagsIn(Schema):
    flags: list[str]
    note: str = ""


@router.post("/conversations/{conversation_id}/author-flags", response=ProfileOut)
def author_flags(request: HttpRequest, conversation_id: int, body: FlagsIn):
    conversation = access_conversation(_membership(request), conversation_id)
    profile.profile_set_flags(
        contact=conversation.contact,
        membership=_membership(request),
        flags=body.flags,
        note=body.note,
    )
    return _profile_out(conversation)


class ReportsIn(Schema):
    line: str
    at: datetime


class ReportOut(Schema):
    report_id: str
    vehicle: str
    cause: str
    at: datetime
    extra: dict[str, str]


class ErrorOut(Schema):
    detail: str


@router.post(
    "/conversations/{conversation_id}/operator-reports",
    response={200: list[ReportOut], 502: ErrorOut, 501: ErrorOut},
)
def operator_reports(request: HttpRequest, conversation_id: int, body: ReportsIn):
    conversation = access_conversation(_membership(request), conversation_id)
    at = body.at
    if at.tzinfo is None:  # a local time: the organisation's zone
        at = at.replace(tzinfo=ZoneInfo(conversation.organization.timezone))
    try:
        reports = operator.operator_reports_lookup(
            conversation=conversation, membership=_membership(request), line=body.line, at=at
        )
    except operator.NotConfigured as exc:
        return Status(501, {"detail": str(exc)})
    except operator.OperatorError as exc:
        return Status(502, {"detail": str(exc)})
    return Status(200, reports)


class ProblemOut(Schema):
    level: str
    text: str


class RuleOut(Schema):
    id: int
    name: str
    position: int
    enabled: bool
    stop: bool
    conditions: dict[str, list]
    team_id: int | None
    strategy: str
    agent_id: int | None
    priority: int | None
    tags: list[str]
    template_id: int | None
    lock: bool
    never_matches: bool
    problems: list[ProblemOut]


@router.get("/routing/rules", response=list[RuleOut])
def rules(request: HttpRequest):
    out = []
    for rule, explanation in routing.rules_with_explanations(
        organization_id=_membership(request).organization_id
    ):
        out.append(
            {
                **{f: getattr(rule, f) for f in RuleOut.model_fields if hasattr(rule, f)},
                "id": rule.pk,
                "never_matches": explanation.never_matches,
                "problems": [{"level": p.level, "text": str(p.text)} for p in explanation.problems],
            }
        )
    return out


class TryOut(Schema):
    count: int
    scanned: int
    bounded: bool
    since: datetime
    examples: list[dict[str, Any]]


@router.get("/routing/rules/{rule_id}/try", response=TryOut)
def rule_try(request: HttpRequest, rule_id: int):
    rule: RoutingRule = access_routing_rule(_membership(request), rule_id)
    result = routing.try_rule(rule=rule)
    return {
        "count": result.count,
        "scanned": result.scanned,
        "bounded": result.bounded,
        "since": result.since,
        "examples": [
            {
                "message_id": m.pk,
                "conversation_id": m.conversation_id,
                "text": m.text,
                "created_at": m.created_at.isoformat(),
            }
            for m in result.examples
        ],
    }
