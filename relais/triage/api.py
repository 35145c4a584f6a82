"""POST /api/triage: the pipeline's triage for any text, with the caller's network."""

from django.http import HttpRequest
from ninja import Field, Router, Schema

from relais.triage.service import triager_for

router = Router(tags=["triage"])


class TriageIn(Schema):
    text: str = Field(..., max_length=100_000)
    lang: str | None = Field(None, max_length=8, description="skip detection when known")


class TriageOut(Schema):
    lang: str
    intent: str
    sentiment: str
    urgency: str
    priority: int
    lines: list[str]
    line_ids: list[str]
    stops: list[str]
    stop_ids: list[str]
    places: list[str]


@router.post("/triage", response=TriageOut, summary="Triage a text")
def triage(request: HttpRequest, payload: TriageIn):
    membership = request.auth  # type: ignore[attr-defined]
    return triager_for(membership.organization_id).triage(payload.text, lang=payload.lang).to_json()


@router.post("/triage/batch", response=list[TriageOut], summary="Triage up to 1,000 texts")
def triage_batch(request: HttpRequest, payload: list[TriageIn]):
    membership = request.auth  # type: ignore[attr-defined]
    triager = triager_for(membership.organization_id)
    return [triager.triage(item.text, lang=item.lang).to_json() for item in payload[:1000]]
