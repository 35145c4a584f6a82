"""The one webhook endpoint for every network: verify, parse, ingest, then acknowledge."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from relais.channels.contract import ConnectorError, DeliveryReport, InboundMessage
from relais.channels.delivery import apply_delivery_reports
from relais.channels.ingest import ingest
from relais.channels.models import AccountStatus, ChannelAccount
from relais.channels.registry import UnknownConnector, connector_for

logger = logging.getLogger(__name__)


def _headers(request: HttpRequest) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


@csrf_exempt
def webhook(request: HttpRequest, kind: str, account_id: int) -> HttpResponse:
    account = (
        ChannelAccount.objects.filter(pk=account_id, kind=kind)
        .select_related("organization")
        .first()
    )
    if account is None or account.status == AccountStatus.DISABLED:
        return JsonResponse({"error": "unknown account"}, status=404)
    try:
        connector = connector_for(account)
    except (UnknownConnector, ImportError):
        return JsonResponse({"error": f"no connector {kind!r}"}, status=404)
    if request.method == "GET":
        try:
            status, answer = connector.webhook_challenge(
                {k: request.GET.get(k, "") for k in request.GET}
            )
        except ConnectorError as exc:
            return JsonResponse({"error": str(exc)}, status=403 if exc.permanent else 400)
        # X's CRC answer is JSON; Meta's hub.challenge is plain text.
        content_type = "application/json" if answer.lstrip().startswith("{") else "text/plain"
        return HttpResponse(answer, status=status, content_type=content_type)
    if request.method != "POST":
        return JsonResponse({"error": "GET or POST only"}, status=405)
    body: bytes = request.body
    headers = _headers(request)
    try:
        connector.verify_webhook(body, headers)
    except ConnectorError as exc:
        logger.warning("webhook %s/%s refused: %s", kind, account_id, exc)
        return JsonResponse({"error": f"signature refused: {exc}"}, status=401)
    try:
        items = connector.parse_webhook(body, headers)
    except ConnectorError as exc:
        logger.warning("webhook %s/%s: malformed payload: %s", kind, account_id, exc)
        return JsonResponse({"error": f"malformed payload: {exc}"}, status=400)
    messages = [i for i in items if isinstance(i, InboundMessage)]
    reports = [i for i in items if isinstance(i, DeliveryReport)]
    result = ingest(account=account, messages=messages)
    if reports:
        apply_delivery_reports(account=account, reports=reports)
    return JsonResponse(
        {"stored": result.stored, "duplicates": result.duplicates, "reports": len(reports)}
    )
