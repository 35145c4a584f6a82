"""Hooks into the operator's own systems, asked from within a conversation.

Operator reports (S7, "the 11 at 7:42 never came"): vehicle, cause and report id for a line
around a time. Customer look-up (S9): a booking or ticket reference in a private
conversation. Each hook is either a Python callable named by a setting, or a signed HTTP
call to the organisation's URL (OperatorIntegration). Every look-up is audited; the personal
data a customer look-up returns is kept (encrypted) so that a public reply quoting it is
refused.

    RELAIS_OPERATOR_REPORTS = "mypackage.ops.reports"
        def reports(organization, line: str, at: datetime) -> list[dict]
        each dict: {"report_id", "vehicle", "cause", "at"} plus any other keys (shown)
    RELAIS_CUSTOMER_LOOKUP = "mypackage.crm.lookup"
        def lookup(organization, reference: str) -> dict | None

The webhook variant POSTs JSON ({"organization", "line", "at"} or {"organization",
"reference"}) with `X-Relais-Signature: sha256=<HMAC of the body with the secret>` and expects
{"reports": [...]} or {"customer": {...} | null}.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from relais.accounts.models import Membership, Organization, audit
from relais.accounts.permissions import require_answering
from relais.care.models import CustomerLookup, OperatorIntegration
from relais.common import http
from relais.common.signing import sign
from relais.common.timeutils import now, parse_iso
from relais.wording.rendering import VARIABLE

logger = logging.getLogger(__name__)

MAX_REPORTS = 50
# "7h42", "07:42", "7 h 42", "19h" in a message: the time the author speaks of.
TIME_IN_TEXT = re.compile(r"\b([01]?\d|2[0-3])\s?[h:]\s?([0-5]\d)?\b", re.IGNORECASE)
# Values shorter than this are not treated as personal data in replies (e.g. "M.", "1").
MIN_PERSONAL = 4


class OperatorError(Exception):
    """The operator system could not answer, or answered something unusable."""


class NotConfigured(OperatorError):
    pass


@dataclass(frozen=True)
class Report:
    report_id: str
    vehicle: str
    cause: str
    at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "vehicle": self.vehicle,
            "cause": self.cause,
            "at": self.at.isoformat(),
            **self.extra,
        }


def _report(raw: Any) -> Report:
    if not isinstance(raw, dict):
        raise OperatorError(_("A report is not an object."))
    missing = [k for k in ("report_id", "vehicle", "cause", "at") if not str(raw.get(k) or "")]
    if missing:
        raise OperatorError(_("A report lacks %(fields)s.") % {"fields": ", ".join(missing)})
    at = raw["at"]
    try:
        at = parse_iso(at) if isinstance(at, str) else at
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise ValueError
    except ValueError:
        raise OperatorError(
            _("A report's time is not an aware ISO time: %(at)s") % {"at": raw["at"]}
        ) from None
    extra = {
        str(k): str(v)[:300]
        for k, v in raw.items()
        if k not in ("report_id", "vehicle", "cause", "at")
    }
    return Report(
        report_id=str(raw["report_id"])[:100],
        vehicle=str(raw["vehicle"])[:100],
        cause=str(raw["cause"])[:300],
        at=at,
        extra=extra,
    )


def _signed_post(url: str, secret: str, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload, ensure_ascii=False).encode()
    try:
        with http.client() as client:
            response = client.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Relais-Signature": sign(body, secret),
                    "User-Agent": http.USER_AGENT,
                },
            )
    except Exception as exc:  # httpx errors: connection refused, timeout
        raise OperatorError(
            _("The operator system did not answer: %(error)s") % {"error": exc}
        ) from exc
    if response.status_code != 200:
        raise OperatorError(
            _("The operator system answered HTTP %(status)d.") % {"status": response.status_code}
        )
    try:
        return response.json()
    except ValueError:
        raise OperatorError(_("The operator system's answer is not JSON.")) from None


def fetch_reports(*, organization: Organization, line: str, at: datetime) -> list[Report]:
    hook = getattr(settings, "RELAIS_OPERATOR_REPORTS", "")
    if hook:
        try:
            raw = import_string(hook)(organization, line, at)
        except OperatorError:
            raise
        except Exception as exc:
            logger.exception("operator reports hook failed")
            raise OperatorError(
                _("The operator reports hook failed: %(error)s") % {"error": exc}
            ) from exc
    else:
        integration = OperatorIntegration.objects.filter(organization=organization).first()
        if integration is None or not integration.reports_url:
            raise NotConfigured(
                _("No operator reports system is configured for this organisation.")
            )
        answer = _signed_post(
            integration.reports_url,
            integration.secret,
            {"organization": organization.slug, "line": line, "at": at.isoformat()},
        )
        raw = answer.get("reports") if isinstance(answer, dict) else None
        if not isinstance(raw, list):
            raise OperatorError(_("The operator system's answer has no list of reports."))
    if not isinstance(raw, list):
        raise OperatorError(_("The operator reports hook did not return a list."))
    return sorted((_report(r) for r in raw[:MAX_REPORTS]), key=lambda r: r.at)


def guess_line_and_time(conversation) -> tuple[str, datetime]:
    """The line and time the author speaks of: the conversation's first line, and "7h42" in
    the latest inbound message on that message's local day (else the message's own time)."""
    from relais.inbox.models import Direction

    line = conversation.lines.order_by("short_name").values_list("short_name", flat=True).first()
    message = conversation.messages.filter(direction=Direction.IN).order_by("-created_at").first()
    at = message.created_at if message else now()
    if message:
        zone = ZoneInfo(conversation.organization.timezone)
        local = at.astimezone(zone)
        found = TIME_IN_TEXT.search(message.text)
        if found:
            spoken = local.replace(
                hour=int(found.group(1)), minute=int(found.group(2) or 0), second=0, microsecond=0
            )
            if spoken > local + timedelta(hours=1):  # "7h42" written at 6:00 means yesterday
                spoken -= timedelta(days=1)
            at = spoken.astimezone(at.tzinfo)
    return line or "", at


@transaction.atomic
def operator_reports_lookup(
    *, conversation, membership: Membership, line: str, at: datetime
) -> list[Report]:
    """Ask the operator system, and log the question and what came back."""
    require_answering(membership)
    line = line.strip()[:40]
    if not line:
        raise ValidationError(_("Which line? The operator system is asked for one line."))
    reports = fetch_reports(organization=conversation.organization, line=line, at=at)
    audit(
        organization_id=conversation.organization_id,
        actor_id=membership.user_id,
        action="operator.reports_looked_up",
        obj=conversation,
        text=_("Operator reports for line %(line)s around %(at)s: %(n)d")
        % {"line": line, "at": at.isoformat(), "n": len(reports)},
        data={"line": line, "at": at.isoformat(), "reports": [r.as_json() for r in reports]},
    )
    return reports


# --- S9: customer look-up in private messages --------------------------------------------


def fetch_customer(*, organization: Organization, reference: str) -> dict[str, Any] | None:
    hook = getattr(settings, "RELAIS_CUSTOMER_LOOKUP", "")
    if hook:
        try:
            found = import_string(hook)(organization, reference)
        except Exception as exc:
            logger.exception("customer look-up hook failed")
            raise OperatorError(
                _("The customer look-up hook failed: %(error)s") % {"error": exc}
            ) from exc
    else:
        integration = OperatorIntegration.objects.filter(organization=organization).first()
        if integration is None or not integration.lookup_url:
            raise NotConfigured(
                _("No customer look-up system is configured for this organisation.")
            )
        answer = _signed_post(
            integration.lookup_url,
            integration.secret,
            {"organization": organization.slug, "reference": reference},
        )
        if not isinstance(answer, dict) or "customer" not in answer:
            raise OperatorError(_("The look-up system's answer has no customer field."))
        found = answer["customer"]
    if found is not None and not isinstance(found, dict):
        raise OperatorError(_("The customer look-up did not return an object."))
    return {str(k): v for k, v in found.items()} if found else None


@transaction.atomic
def customer_lookup(*, conversation, membership: Membership, reference: str) -> CustomerLookup:
    require_answering(membership)
    reference = reference.strip()[:100]
    if not reference:
        raise ValidationError(_("Give a booking or ticket reference."))
    if not conversation.is_private:
        raise ValidationError(
            _(
                "Customer files are looked up in private conversations only: ask the author to write in private."
            )
        )
    found = fetch_customer(organization=conversation.organization, reference=reference)
    lookup = CustomerLookup.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        contact_id=conversation.contact_id,
        reference=reference,
        result=found or {},
        looked_up_by=membership.user,
        created_at=now(),
    )
    # The audit keeps the question, not the personal data of the answer.
    audit(
        organization_id=conversation.organization_id,
        actor_id=membership.user_id,
        action="operator.customer_looked_up",
        obj=conversation,
        text=reference,
        data={"found": found is not None, "lookup": lookup.pk},
    )
    return lookup


def _personal_values(lookup: CustomerLookup) -> list[str]:
    values = [lookup.reference]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif value is not None and not isinstance(value, bool):
            values.append(str(value))

    walk(lookup.result)
    return [v.strip() for v in values if len(v.strip()) >= MIN_PERSONAL]


def guard_reply(*, conversation, text: str) -> None:
    """Called by relais.inbox.actions.conversation_reply before anything is stored.

    A template variable left unfilled ("{stop}") is refused, never sent; a public reply
    quoting personal data looked up for this author is refused."""
    left = [m.group(1) for m in VARIABLE.finditer(text) if m.group(1)]
    if left:
        raise ValidationError(
            _("Fill in %(names)s before sending: a template variable is never sent as is.")
            % {"names": ", ".join("{" + n + "}" for n in dict.fromkeys(left))},
            code="unfilled",
        )
    if conversation.is_private:
        return
    folded = text.casefold()
    for lookup in CustomerLookup.objects.filter(contact_id=conversation.contact_id):
        for value in _personal_values(lookup):
            if value.casefold() in folded:
                raise ValidationError(
                    _(
                        "This public reply contains personal data from the customer file "
                        "looked up for this author (%(reference)s): answer in a private message."
                    )
                    % {"reference": lookup.reference},
                    code="personal_data",
                )
