"""WhatsApp Business through the Cloud API: signed webhooks in (messages and delivery
statuses), POST /{phone-number-id}/messages out, the 24-hour window respected."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from relais.channels.contract import (
    Author,
    Capability,
    Connector,
    ConnectorError,
    DeliveryReport,
    InboundMessage,
    Limits,
    MessageKind,
    OutboundMessage,
    Receipt,
)
from relais.common import http, signing
from relais.common.timeutils import now, parse_iso
from relais.connectors.whatsapp.config import WhatsAppConfig, load_config

logger = logging.getLogger(__name__)

# https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
TOKEN_ERRORS = {190, 0}  # 0 = AuthException
PERMISSION_ERRORS = {3, 10, *range(200, 300)}
RATE_LIMIT_ERRORS = {4, 80007, 130429, 131048, 131056}
TRANSIENT_ERRORS = {1, 2, 131000, 131016}
OUTSIDE_WINDOW = 131047  # "Re-engagement message": more than 24 h since the person wrote
RATE_LIMIT_DEFAULT_WAIT = 60.0
WINDOW = timedelta(hours=24)

# Text message body: 4096 characters.
LIMITS = Limits(message_length=4096, direct_message_length=4096)


def _http() -> httpx.Client:
    """The HTTP client; the tests replace it with one on a MockTransport."""
    return http.client()


def graph_error(response: httpx.Response) -> ConnectorError:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details", "")
    message = error.get("message") or response.text[:300] or f"HTTP {response.status_code}"
    text = f"WhatsApp: {message} (HTTP {response.status_code}, code {code})"
    if details:
        text += f": {details}"
    if code in TOKEN_ERRORS or response.status_code == 401:
        return ConnectorError(
            f"{text}; the access token expired or was revoked, reconnect the account",
            permanent=True,
            reconnect=True,
        )
    if code in PERMISSION_ERRORS:
        return ConnectorError(
            f"{text}; a permission is missing, reconnect the account and grant it",
            permanent=True,
            reconnect=True,
        )
    if response.status_code == 429 or code in RATE_LIMIT_ERRORS:
        retry = response.headers.get("retry-after", "")
        return ConnectorError(
            f"{text}; rate limited",
            retry_after=float(retry) if retry.isdigit() else RATE_LIMIT_DEFAULT_WAIT,
        )
    if response.status_code >= 500 or code in TRANSIENT_ERRORS:
        return ConnectorError(text)
    return ConnectorError(text, permanent=True)


class OutsideWindow(ConnectorError):
    def __init__(self, message: str):
        super().__init__(message, permanent=True)


def window_open(last_inbound_at: datetime | None, at: datetime) -> bool:
    """A free-form message is allowed only within 24 h of the person's last message."""
    return last_inbound_at is not None and at - last_inbound_at < WINDOW


class WhatsAppConnector(Connector):
    kind = "whatsapp"
    label = "WhatsApp (Cloud API)"
    capabilities = frozenset({Capability.WEBHOOK, Capability.DIRECT_MESSAGE, Capability.REPLY})
    limits = LIMITS

    @property
    def config(self) -> WhatsAppConfig:
        return load_config(self.account)

    # -- webhooks ---------------------------------------------------------------------

    def webhook_challenge(self, params: dict[str, str]) -> tuple[int, str]:
        if params.get("hub.mode") != "subscribe":
            raise ConnectorError("hub.mode is not 'subscribe'", permanent=True)
        challenge = signing.hub_challenge(self.config.verify_token.get_secret_value(), params)
        if challenge is None:
            raise ConnectorError("hub.verify_token does not match the account's", permanent=True)
        return 200, challenge

    def verify_webhook(self, body: bytes, headers: dict[str, str]) -> None:
        header = headers.get("x-hub-signature-256", "")
        if not header.startswith("sha256="):
            raise ConnectorError("missing X-Hub-Signature-256 header", permanent=True)
        if not signing.signature_matches(body, self.config.app_secret.get_secret_value(), header):
            raise ConnectorError(
                "X-Hub-Signature-256 does not match the app secret", permanent=True
            )

    def parse_webhook(
        self, body: bytes, headers: dict[str, str]
    ) -> list[InboundMessage | DeliveryReport]:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ConnectorError(f"webhook body is not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
            logger.warning(
                "whatsapp account %s: webhook object %r ignored",
                self.account.pk,
                data.get("object") if isinstance(data, dict) else type(data).__name__,
            )
            return []
        phone_number_id = self.config.phone_number_id
        items: list[InboundMessage | DeliveryReport] = []
        for entry in data.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                if change.get("field") != "messages":
                    logger.info(
                        "whatsapp account %s: change field %r ignored",
                        self.account.pk,
                        change.get("field"),
                    )
                    continue
                number = str((value.get("metadata") or {}).get("phone_number_id", ""))
                if number and number != phone_number_id:
                    logger.warning(
                        "whatsapp account %s: event for phone number %s ignored (ours is %s)",
                        self.account.pk,
                        number,
                        phone_number_id,
                    )
                    continue
                names = {
                    str(c.get("wa_id")): (c.get("profile") or {}).get("name", "")
                    for c in value.get("contacts") or []
                }
                for message in value.get("messages") or []:
                    items.extend(self._guarded(self._inbound, message, names))
                for status in value.get("statuses") or []:
                    items.extend(self._guarded(self._report, status))
        return items

    def _guarded(self, parse: Any, *args: Any) -> list[InboundMessage | DeliveryReport]:
        # One malformed event must not turn the whole delivery into a 500 that Meta retries:
        # it is logged with its payload and the rest is stored.
        try:
            item = parse(*args)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            logger.error(
                "whatsapp account %s: malformed event skipped (%r): %s",
                self.account.pk,
                exc,
                args[0],
            )
            return []
        return [item] if item is not None else []

    def _inbound(self, message: dict[str, Any], names: dict[str, str]) -> InboundMessage:
        kind = message.get("type", "")
        sender = str(message.get("from", ""))
        if kind == "text":
            text = (message.get("text") or {}).get("body", "")
        elif kind in ("image", "video", "document", "audio", "sticker"):
            media = message.get(kind) or {}
            text = f"[{kind}] {media.get('caption', '')}".strip()
        elif kind == "button":
            text = (message.get("button") or {}).get("text", "")
        elif kind == "interactive":
            reply = message.get("interactive") or {}
            chosen = reply.get(reply.get("type", "")) or {}
            text = chosen.get("title", "") or f"[{kind}]"
        elif kind == "location":
            loc = message.get("location") or {}
            text = f"[location] {loc.get('name', '')} {loc.get('latitude')},{loc.get('longitude')}"
        else:
            logger.info(
                "whatsapp account %s: message type %r kept as a placeholder", self.account.pk, kind
            )
            text = f"[{kind or 'unknown'} message]"
        return InboundMessage(
            external_id=str(message["id"]),
            kind=MessageKind.DM,
            author=Author(external_id=sender, handle=sender, display_name=names.get(sender, "")),
            text=text,
            created_at=datetime.fromtimestamp(int(message.get("timestamp", 0)), tz=UTC),
            reply_to_id=str((message.get("context") or {}).get("id", "")),
            raw=message,
        )

    def _report(self, status: dict[str, Any]) -> DeliveryReport | None:
        state = status.get("status")
        if state in ("sent", "delivered", "read"):
            return DeliveryReport(external_id=str(status["id"]), delivered=True, raw=status)
        if state == "failed":
            reasons = []
            for error in status.get("errors") or []:
                detail = (error.get("error_data") or {}).get("details") or error.get("message", "")
                reason = f"{error.get('title', 'error')} (code {error.get('code')})"
                if error.get("code") == OUTSIDE_WINDOW:
                    reason += ": outside the 24-hour customer service window"
                reasons.append(f"{reason}: {detail}" if detail else reason)
            return DeliveryReport(
                external_id=str(status["id"]),
                delivered=False,
                error="; ".join(reasons) or "failed",
                raw=status,
            )
        logger.info("whatsapp account %s: status %r ignored", self.account.pk, state)
        return None

    # -- sending ----------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        config = self.config
        url = f"{config.graph_url.rstrip('/')}/{config.graph_version}/{path.lstrip('/')}"
        headers = {"Authorization": f"Bearer {config.access_token.get_secret_value()}"}
        try:
            with _http() as client:
                response = client.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise ConnectorError(f"WhatsApp did not answer in time: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ConnectorError(f"WhatsApp unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise graph_error(response)
        try:
            result = response.json()
        except ValueError as exc:
            raise ConnectorError(f"WhatsApp answered something that is not JSON: {exc}") from exc
        return result if isinstance(result, dict) else {"data": result}

    def send(self, message: OutboundMessage) -> Receipt:
        recipient = message.recipient
        if not recipient:
            raise ConnectorError("a WhatsApp message needs the recipient's number", permanent=True)
        if len(message.text) > LIMITS.message_length:
            raise ConnectorError(
                f"text longer than {LIMITS.message_length} characters", permanent=True
            )
        # The delivery path may tell when the person last wrote (see docs/connectors/
        # whatsapp.md); when it does, a closed window is known before calling Meta.
        last_inbound = getattr(message, "last_inbound_at", None)
        if isinstance(last_inbound, str) and last_inbound:
            last_inbound = parse_iso(last_inbound)
        if isinstance(last_inbound, datetime) and not window_open(last_inbound, now()):
            return self._send_template(message, last_inbound)
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient,
            "type": "text",
            "text": {"preview_url": False, "body": message.text},
        }
        if message.reply_to_id:
            body["context"] = {"message_id": message.reply_to_id}
        try:
            answer = self._call("POST", f"{self.config.phone_number_id}/messages", json=body)
        except ConnectorError as exc:
            if f"code {OUTSIDE_WINDOW})" in str(exc):
                return self._send_template(message, None)
            raise
        return self._receipt(answer, message)

    def _send_template(self, message: OutboundMessage, last_inbound: datetime | None) -> Receipt:
        config = self.config
        since = f" (last message {last_inbound:%Y-%m-%d %H:%M} UTC)" if last_inbound else ""
        if not config.template_name:
            raise OutsideWindow(
                "WhatsApp allows a free-form reply only within 24 hours of the person's last "
                f"message{since}; configure an approved template (template_name) to re-engage"
            )
        answer = self._call(
            "POST",
            f"{config.phone_number_id}/messages",
            json={
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": message.recipient,
                "type": "template",
                "template": {
                    "name": config.template_name,
                    "language": {"code": config.template_language},
                },
            },
        )
        logger.info(
            "whatsapp account %s: window closed%s, template %r sent instead of the text",
            self.account.pk,
            since,
            config.template_name,
        )
        return self._receipt(answer, message)

    @staticmethod
    def _receipt(answer: dict[str, Any], message: OutboundMessage) -> Receipt:
        try:
            wamid = str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise ConnectorError(f"WhatsApp answered without a message id: {answer}") from exc
        return Receipt(external_id=wamid, thread_id=message.thread_id)

    def test_connection(self) -> str:
        config = self.config
        found = self._call(
            "GET",
            config.phone_number_id,
            params={"fields": "display_phone_number,verified_name,quality_rating"},
        )
        return (
            f"WhatsApp number {found.get('display_phone_number', '?')} "
            f"(“{found.get('verified_name', '?')}”, quality {found.get('quality_rating', '?')}) "
            "reachable"
        )
