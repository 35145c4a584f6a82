"""SMS through an SMSC over SMPP (smpplib) or through a generic HTTP SMS gateway.

SMPP is a persistent session, but the platform polls: a poll binds as transceiver, reads
what the SMSC has queued for us (inbound MO messages, delivery receipts) for a short bounded
time, answers each deliver_sm, then unbinds. A send binds as transmitter, so that it never
takes (and loses) queued deliver_sm PDUs meant for the poll.

The HTTP gateway's format is documented in docs/connectors/sms.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import select
import time
from collections.abc import Callable
from typing import Any

import httpx
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

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
from relais.connectors.sms.config import SmsSettings, load_settings

logger = logging.getLogger(__name__)

GSM7_PART = 153  # characters of one part of a concatenated GSM-7 SMS (160 alone)
UCS2_PART = 67  # … of a UCS-2 one (70 alone)

# SMPP 3.4 command_status values that are worth a later retry; the rest are permanent.
_TEMPORARY_STATUS = {
    smpplib.consts.SMPP_ESME_RSYSERR,
    smpplib.consts.SMPP_ESME_RMSGQFUL,
    smpplib.consts.SMPP_ESME_RTHROTTLED,
    smpplib.consts.SMPP_ESME_RX_T_APPN,
    smpplib.consts.SMPP_ESME_RSUBMITFAIL,
}
_CREDENTIAL_STATUS = {
    smpplib.consts.SMPP_ESME_RBINDFAIL,
    smpplib.consts.SMPP_ESME_RINVPASWD,
    smpplib.consts.SMPP_ESME_RINVSYSID,
}
THROTTLED_RETRY_AFTER = 60.0

_RECEIPT_FIELD = re.compile(r"(id|stat|err):(\S+)", re.IGNORECASE)


def gsm7_decode(data: bytes) -> str:
    """Unpacked GSM 03.38 default alphabet (what SMPP carries with data_coding 0)."""
    table = smpplib.gsm.GSM_CHARACTER_TABLE
    out, escape = [], False
    for byte in data:
        if escape:
            index = byte + 0x80
            out.append(table[index] if index < len(table) else "?")
            escape = False
        elif byte == 0x1B:
            escape = True
        else:
            out.append(table[byte] if byte < len(table) else "?")
    return "".join(out)


def decode_short_message(data: bytes, data_coding: int) -> str:
    coding = data_coding & 0x0F if data_coding < 0xF0 else 0
    if coding == 0x08:
        return data.decode("utf-16-be", "replace")
    if coding == 0x03:
        return data.decode("latin-1")
    if coding == 0x01:
        # IA5 says ASCII, but SMSCs (and the npm smpp simulator) often put GSM-7 bytes there:
        # a byte below 0x20 other than CR/LF can only be GSM-7 (é is 0x05).
        if any(b < 0x20 and b not in (0x0A, 0x0D) for b in data):
            return gsm7_decode(data)
        return data.decode("ascii", "replace")
    if coding == 0x00:
        return gsm7_decode(data)
    return data.decode("utf-8", "replace")


def phone(address: str | bytes, ton: int = 1) -> str:
    value = address.decode() if isinstance(address, bytes) else str(address)
    value = value.strip()
    if ton == 1 and value.isdigit():
        return f"+{value}"
    return value


def parse_receipt(text: str) -> tuple[str, str, str]:
    """'id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:000 text:…' (SMPP 3.4
    appendix B) → (message id, stat, err)."""
    fields = {k.lower(): v for k, v in _RECEIPT_FIELD.findall(text.split(" text:")[0])}
    return fields.get("id", ""), fields.get("stat", "").upper(), fields.get("err", "")


def _status_name(code: int) -> str:
    description = smpplib.consts.DESCRIPTIONS.get(code, "unknown status")
    return f"0x{code:02X} {description}"


def _address(value: str) -> tuple[int, int, str]:
    """(ton, npi, address) for SMPP: international numbers, national ones, sender names."""
    digits = value.lstrip("+")
    if value.startswith("+") and digits.isdigit():
        return 1, 1, digits
    if digits.isdigit():
        return 0, 1, digits
    return 5, 0, value  # alphanumeric sender id


class SmsConnector(Connector):
    kind = "sms"
    label = "SMS"
    capabilities = frozenset(
        {Capability.POLL, Capability.WEBHOOK, Capability.REPLY, Capability.DIRECT_MESSAGE}
    )
    limits = Limits(message_length=GSM7_PART * 6, direct_message_length=GSM7_PART * 6)

    def __init__(self, account: Any, *, transport: httpx.BaseTransport | None = None):
        super().__init__(account)
        self._settings: SmsSettings | None = None
        self._transport = transport  # tests give an httpx.MockTransport
        # Receipts read by the last poll; see poll().
        self.delivery_reports: list[DeliveryReport] = []

    @property
    def settings(self) -> SmsSettings:
        if self._settings is None:
            self._settings = load_settings(self.account)
        return self._settings

    def effective_limits(self) -> Limits:
        try:
            parts = self.settings.max_parts
        except ConnectorError:
            return self.limits
        # GSM-7 texts; a text that needs UCS-2 (emoji, some accents) fits 67 a part, and
        # send() refuses it with a clear reason when it needs more than max_parts.
        length = GSM7_PART * parts if parts > 1 else 160
        return Limits(message_length=length, direct_message_length=length)

    # --- SMPP ---------------------------------------------------------------------------

    def _bind(self, mode: str) -> smpplib.client.Client:
        s = self.settings
        where = f"SMSC {s.host}:{s.port}"
        client = smpplib.client.Client(
            s.host, s.port, timeout=s.timeout, allow_unknown_opt_params=True
        )
        try:
            client.connect()
        except (smpplib.exceptions.ConnectionError, OSError) as exc:
            _disconnect(client)
            raise ConnectorError(f"{where} unreachable: {exc or 'connection refused'}") from exc
        bind: Callable[..., Any] = getattr(client, f"bind_{mode}")
        try:
            bind(
                system_id=s.system_id,
                password=s.password.get_secret_value(),
                system_type=s.system_type,
            )
        except smpplib.exceptions.PDUError as exc:
            _disconnect(client)
            code = exc.args[1] if len(exc.args) > 1 else 0
            if code in _CREDENTIAL_STATUS:
                raise ConnectorError(
                    f"{where} refused the bind of {s.system_id!r} ({_status_name(code)}): "
                    "check the system id and password",
                    permanent=True,
                    reconnect=True,
                ) from exc
            raise ConnectorError(
                f"{where} refused the bind: {_status_name(code)}",
                permanent=code not in _TEMPORARY_STATUS,
            ) from exc
        except (smpplib.exceptions.ConnectionError, OSError) as exc:
            _disconnect(client)
            raise ConnectorError(f"{where} dropped the connection while binding: {exc}") from exc
        return client

    def _smpp_send(self, message: OutboundMessage) -> Receipt:
        s = self.settings
        where = f"SMSC {s.host}:{s.port}"
        parts, coding, esm_class = smpplib.gsm.make_parts(message.text)
        if len(parts) > s.max_parts:
            per_part = UCS2_PART if coding == smpplib.consts.SMPP_ENCODING_ISO10646 else GSM7_PART
            raise ConnectorError(
                f"text needs {len(parts)} SMS, more than the {s.max_parts} allowed "
                f"({per_part} characters a part in this alphabet)",
                permanent=True,
            )
        src_ton, src_npi, source = _address(s.source_address)
        dst_ton, dst_npi, destination = _address(message.recipient)
        client = self._bind("transmitter")
        ids: list[str] = []

        def sent(pdu: Any, **kwargs: Any) -> None:
            value = pdu.message_id
            ids.append(value.decode() if isinstance(value, bytes) else str(value))

        client.set_message_sent_handler(sent)
        try:
            for part in parts:
                client.send_message(
                    source_addr_ton=src_ton,
                    source_addr_npi=src_npi,
                    source_addr=source,
                    dest_addr_ton=dst_ton,
                    dest_addr_npi=dst_npi,
                    destination_addr=destination,
                    short_message=part,
                    data_coding=coding,
                    esm_class=esm_class,
                    registered_delivery=1,
                )
            while len(ids) < len(parts):
                client.read_once(auto_send_enquire_link=False)
        except smpplib.exceptions.PDUError as exc:
            code = exc.args[1] if len(exc.args) > 1 else 0
            text = f"{where} refused the message: {_status_name(code)}"
            if ids:
                # Some parts left already: a retry would send them twice.
                raise ConnectorError(
                    f"{text} after {len(ids)} of {len(parts)} parts", permanent=True
                ) from exc
            if code == smpplib.consts.SMPP_ESME_RTHROTTLED:
                raise ConnectorError(text, retry_after=THROTTLED_RETRY_AFTER) from exc
            raise ConnectorError(text, permanent=code not in _TEMPORARY_STATUS) from exc
        except (smpplib.exceptions.ConnectionError, OSError) as exc:
            raise ConnectorError(
                f"{where}: {exc or 'connection lost'}", permanent=bool(ids)
            ) from exc
        finally:
            _unbind(client)
        # Receipts come per part; the first part's id stands for the message.
        return Receipt(
            external_id=ids[0], thread_id=message.thread_id or f"sms:{message.recipient}"
        )

    def read_pending(self) -> tuple[list[InboundMessage], list[DeliveryReport]]:
        """Bind as transceiver and read what the SMSC has queued, for a bounded time."""
        s = self.settings
        client = self._bind("transceiver")
        messages: list[InboundMessage] = []
        reports: list[DeliveryReport] = []
        started = now()
        segments: dict[tuple[str, int], dict[int, str]] = {}

        def received(pdu: Any, **kwargs: Any) -> int | None:
            if pdu.command != "deliver_sm":
                return None
            raw_text = pdu.short_message or b""
            if pdu.esm_class & 0x3C == 0x04:  # SMSC delivery receipt
                text = raw_text.decode("latin-1")
                msg_id, stat, err = parse_receipt(text)
                tlv = getattr(pdu, "receipted_message_id", None)
                if tlv:
                    msg_id = tlv.decode() if isinstance(tlv, bytes) else str(tlv)
                if stat in ("ENROUTE", "ACCEPTD"):
                    return None  # interim states: the final receipt follows
                reports.append(
                    DeliveryReport(
                        external_id=msg_id,
                        delivered=stat == "DELIVRD",
                        error="" if stat == "DELIVRD" else f"{stat} (err {err})",
                        raw={"receipt": text},
                    )
                )
                return None
            sender = phone(pdu.source_addr, pdu.source_addr_ton)
            body = bytes(raw_text)
            part = (0, 1, 1)
            if pdu.esm_class & 0x40 and body:  # UDH: a part of a concatenated SMS
                header, body = body[1 : 1 + body[0]], body[1 + body[0] :]
                if len(header) >= 5 and header[0] == 0x00:
                    part = (header[2], header[3], header[4])
            text = decode_short_message(body, pdu.data_coding)
            ref, total, index = part
            if total > 1:
                pieces = segments.setdefault((sender, ref), {})
                pieces[index] = text
                if len(pieces) < total:
                    return None
                text = "".join(pieces[i] for i in sorted(pieces))
                del segments[(sender, ref)]
            messages.append(
                InboundMessage(
                    external_id=f"mo:{sender}:{started.strftime('%Y%m%dT%H%M%S.%f')}:{len(messages)}",
                    kind=MessageKind.DM,
                    author=Author(external_id=sender, handle=sender),
                    text=text,
                    created_at=now(),
                    thread_id=f"sms:{sender}",
                    raw={
                        "source_addr": sender,
                        "destination_addr": phone(pdu.destination_addr, pdu.dest_addr_ton),
                        "data_coding": pdu.data_coding,
                        "esm_class": pdu.esm_class,
                    },
                )
            )
            return None

        client.set_message_received_handler(received)
        deadline = time.monotonic() + s.poll_seconds
        try:
            while True:
                wait = min(deadline - time.monotonic(), s.poll_idle_seconds)
                if wait <= 0:
                    break
                readable, _, _ = select.select([client._socket], [], [], wait)
                if not readable:
                    break
                client.read_once(auto_send_enquire_link=False)
        except (smpplib.exceptions.ConnectionError, OSError) as exc:
            raise ConnectorError(f"SMSC {s.host}:{s.port}: {exc or 'connection lost'}") from exc
        finally:
            _unbind(client)
        for (sender, _ref), pieces in segments.items():
            logger.warning(
                "sms: incomplete concatenated SMS from %s (%d parts)", sender, len(pieces)
            )
        return messages, reports

    def poll(self, cursor: str) -> tuple[list[InboundMessage | DeliveryReport], str]:
        """SMPP has no cursor: what was read is acknowledged. The cursor records when.
        Inbound messages and delivery receipts both go back to the polling path."""
        if self.settings.gateway != "smpp":
            return [], cursor
        messages, reports = self.read_pending()
        self.delivery_reports = reports
        for report in reports:
            logger.info(
                "sms receipt %s: %s",
                report.external_id,
                "delivered" if report.delivered else report.error,
            )
        return [*messages, *reports], now().isoformat()

    # --- HTTP gateway -------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        s = self.settings
        kwargs: dict[str, Any] = {
            "base_url": s.base_url,
            "timeout": s.timeout,
        }
        if self._transport is not None:
            kwargs["transport"] = self._transport
        client = http.client(**kwargs)
        client.headers["Authorization"] = f"Bearer {s.api_key.get_secret_value()}"
        return client

    def _http_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        where = f"SMS gateway {self.settings.base_url}"
        try:
            with self._http() as client:
                response = client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ConnectorError(f"{where}: timed out") from exc
        except httpx.HTTPError as exc:
            raise ConnectorError(f"{where} unreachable: {exc}") from exc
        if response.status_code < 400:
            return response
        try:
            detail = str(response.json().get("error") or response.text)
        except (ValueError, AttributeError):
            detail = response.text
        text = f"{where}: HTTP {response.status_code} {detail}".strip()
        if response.status_code == 429:
            retry_after = response.headers.get("retry-after", "")
            raise ConnectorError(
                text,
                retry_after=float(retry_after) if retry_after.isdigit() else THROTTLED_RETRY_AFTER,
            )
        if response.status_code in (401, 403):
            raise ConnectorError(text, permanent=True, reconnect=True)
        if response.status_code >= 500:
            raise ConnectorError(text)
        raise ConnectorError(text, permanent=True)

    def _http_send(self, message: OutboundMessage) -> Receipt:
        response = self._http_call(
            "POST",
            "/messages",
            json={
                "from": self.settings.source_address,
                "to": message.recipient,
                "text": message.text,
                "reference": message.idempotency_key,
            },
        )
        try:
            message_id = str(response.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConnectorError(
                f"SMS gateway answered without an id: {response.text[:200]}"
            ) from exc
        return Receipt(
            external_id=message_id, thread_id=message.thread_id or f"sms:{message.recipient}"
        )

    def verify_webhook(self, body: bytes, headers: dict[str, str]) -> None:
        s = self.settings
        if s.gateway != "http":
            raise ConnectorError("this SMS account uses SMPP, not webhooks", permanent=True)
        given = headers.get("x-sms-signature", "")
        if not signing.signature_matches(body, s.webhook_secret.get_secret_value(), given):
            raise ConnectorError("X-SMS-Signature missing or wrong", permanent=True)

    def parse_webhook(
        self, body: bytes, headers: dict[str, str]
    ) -> list[InboundMessage | DeliveryReport]:
        try:
            event = json.loads(body)
            kind = event["type"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConnectorError(f"not an SMS gateway event: {exc}") from exc
        try:
            if kind == "message":
                sender = phone(str(event["from"]))
                return [
                    InboundMessage(
                        external_id=str(event["id"]),
                        kind=MessageKind.DM,
                        author=Author(external_id=sender, handle=sender),
                        text=str(event.get("text") or ""),
                        created_at=parse_iso(event["received_at"])
                        if event.get("received_at")
                        else now(),
                        thread_id=f"sms:{sender}",
                        raw=event,
                    )
                ]
            if kind == "status":
                status = str(event["status"])
                if status in ("queued", "sent"):
                    return []
                return [
                    DeliveryReport(
                        external_id=str(event["message_id"]),
                        delivered=status == "delivered",
                        error="" if status == "delivered" else str(event.get("error") or status),
                        raw=event,
                    )
                ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConnectorError(f"SMS gateway {kind} event without {exc}") from exc
        logger.warning("sms gateway: unknown event type %r ignored", kind)
        return []

    # --- both -------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> Receipt:
        if not message.recipient:
            raise ConnectorError("an SMS needs the recipient's number", permanent=True)
        if self.settings.gateway == "http":
            return self._http_send(message)
        return self._smpp_send(message)

    def test_connection(self) -> str:
        s = self.settings
        if s.gateway == "http":
            self._http_call("GET", "/health")
            return f"SMS gateway {s.base_url} accepted our API key."
        client = self._bind("transmitter")
        _unbind(client)
        return f"SMSC {s.host}:{s.port} accepted the bind of {s.system_id!r}."

    # --- many messages in one session (subscriber broadcasts) -------------------------

    def send_batch(
        self, items: list[tuple[str, str]], *, window: int = 50
    ) -> list[str | ConnectorError]:
        """Send (recipient, text) pairs in one session, for a broadcast to many subscribers.
        Returns, in order, the gateway's message id or the ConnectorError of each. Over
        SMPP, one bind and up to `window` submit_sm in flight at once; a session-level
        refusal of the bind raises (nothing went out); a connection lost midway gives the
        items submitted but unanswered a permanent error (they may have gone out: never
        resend them) and the items never submitted a temporary one. Over the HTTP gateway,
        one POST each; once the gateway fails (5xx, unreachable) the rest are returned
        untried with that temporary error."""
        if self.settings.gateway == "http":
            results: list[str | ConnectorError] = []
            for index, (recipient, text) in enumerate(items):
                try:
                    receipt = self._http_send(
                        OutboundMessage(
                            idempotency_key="", kind=MessageKind.DM, text=text, recipient=recipient
                        )
                    )
                    results.append(receipt.external_id)
                except ConnectorError as exc:
                    results.append(exc)
                    if not exc.permanent and exc.retry_after is None:
                        # The gateway is failing: the rest is not tried now, but later.
                        results += [exc] * (len(items) - index - 1)
                        break
            return results
        return self._smpp_send_batch(items, window=window)

    def _smpp_send_batch(
        self, items: list[tuple[str, str]], *, window: int
    ) -> list[str | ConnectorError]:
        s = self.settings
        where = f"SMSC {s.host}:{s.port}"
        src_ton, src_npi, source = _address(s.source_address)
        results: list[str | ConnectorError | None] = [None] * len(items)
        by_sequence: dict[int, int] = {}  # PDU sequence -> index in items
        client = self._bind("transmitter")

        def answered(pdu: Any, **kwargs: Any) -> None:
            index = by_sequence.pop(pdu.sequence, None)
            if index is None:
                return
            status = getattr(pdu, "status", 0) or 0
            if status:
                error = ConnectorError(
                    f"{where} refused the message: {_status_name(status)}",
                    permanent=status not in _TEMPORARY_STATUS,
                    retry_after=THROTTLED_RETRY_AFTER
                    if status == smpplib.consts.SMPP_ESME_RTHROTTLED
                    else None,
                )
                if not isinstance(results[index], ConnectorError):
                    results[index] = error
            elif results[index] is None:
                value = pdu.message_id
                results[index] = value.decode() if isinstance(value, bytes) else str(value)

        client.set_message_sent_handler(answered)
        client.set_error_pdu_handler(answered)
        try:
            for index, (recipient, text) in enumerate(items):
                parts, coding, esm_class = smpplib.gsm.make_parts(text)
                if len(parts) > s.max_parts:
                    results[index] = ConnectorError(
                        f"text needs {len(parts)} SMS, more than the {s.max_parts} allowed",
                        permanent=True,
                    )
                    continue
                if not recipient:
                    results[index] = ConnectorError("no recipient number", permanent=True)
                    continue
                dst_ton, dst_npi, destination = _address(recipient)
                for part in parts:
                    pdu = client.send_message(
                        source_addr_ton=src_ton,
                        source_addr_npi=src_npi,
                        source_addr=source,
                        dest_addr_ton=dst_ton,
                        dest_addr_npi=dst_npi,
                        destination_addr=destination,
                        short_message=part,
                        data_coding=coding,
                        esm_class=esm_class,
                        registered_delivery=1,
                    )
                    by_sequence[pdu.sequence] = index
                    while len(by_sequence) >= window:
                        client.read_once(auto_send_enquire_link=False)
            while by_sequence:
                client.read_once(auto_send_enquire_link=False)
        except (smpplib.exceptions.ConnectionError, OSError) as exc:
            # Submitted and unanswered: it may have gone out, so it is never resent.
            lost = ConnectorError(
                f"{where}: {exc or 'connection lost'} before the SMSC answered", permanent=True
            )
            for index in set(by_sequence.values()):
                results[index] = lost
            # Never submitted: safe to try again later.
            unsent = ConnectorError(f"{where}: {exc or 'connection lost'}", permanent=False)
            results = [unsent if r is None else r for r in results]
        finally:
            _unbind(client)
        return [
            r if r is not None else ConnectorError("not answered", permanent=True) for r in results
        ]


def _unbind(client: smpplib.client.Client) -> None:
    with contextlib.suppress(Exception):
        client.unbind()
    _disconnect(client)


def _disconnect(client: smpplib.client.Client) -> None:
    with contextlib.suppress(Exception):
        client.disconnect()
