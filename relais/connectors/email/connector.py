"""E-mail: IMAP polling into conversations, SMTP replies with correct threading headers.

The cursor is "UIDVALIDITY:last UID": UIDs only grow within one UIDVALIDITY, so nothing is
fetched twice; when the server changes UIDVALIDITY (mailbox recreated), the mailbox is read
again from the start and ingest deduplicates on the Message-ID.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib
import logging
import re
import smtplib
import ssl
from datetime import UTC
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from relais.channels.contract import (
    Attachment,
    Author,
    Capability,
    Connector,
    ConnectorError,
    InboundMessage,
    Limits,
    MessageKind,
    OutboundMessage,
    Receipt,
)
from relais.common.timeutils import now
from relais.connectors.email.config import EmailSettings, load_settings

logger = logging.getLogger(__name__)

_MSGID = re.compile(r"<[^<>\s]+>")
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}


class _HTMLText(HTMLParser):
    """HTML to plain text with the standard library: text kept, markup and scripts dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(self._skip - 1, 0)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    lines = [
        re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n")
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def message_ids(value: str | None) -> list[str]:
    return _MSGID.findall(str(value or ""))


def _body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    if part is not None:
        return str(part.get_content()).strip()
    part = msg.get_body(preferencelist=("html",))
    if part is not None:
        return html_to_text(str(part.get_content()))
    return ""


def parse_message(
    data: bytes, *, uid: int = 0, uidvalidity: str = "", mailbox_url: str = ""
) -> InboundMessage:
    """One RFC 5322 message → InboundMessage (kind dm: e-mail is private)."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)  # noqa: S101 - policy.default makes EmailMessage
    own_id = (message_ids(msg["Message-ID"]) or [f"<uid.{uidvalidity}.{uid}@relais.invalid>"])[0]
    references = message_ids(msg["References"])
    in_reply_to = (message_ids(msg["In-Reply-To"]) or [""])[0]
    thread_id = references[0] if references else (in_reply_to or own_id)
    name, address = parseaddr(str(msg["From"] or ""))
    address = address.strip().lower()
    try:
        created_at = parsedate_to_datetime(str(msg["Date"]))
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        created_at = created_at.astimezone(UTC)
    except (TypeError, ValueError):
        created_at = now()
    attachments = tuple(
        Attachment(
            url=f"{mailbox_url};UID={uid}" if mailbox_url else "",
            mime_type=part.get_content_type(),
            description=part.get_filename() or "",
        )
        for part in msg.iter_attachments()
    )
    return InboundMessage(
        external_id=own_id,
        kind=MessageKind.DM,
        author=Author(external_id=address, handle=address, display_name=name or ""),
        text=_body_text(msg),
        created_at=created_at,
        thread_id=thread_id,
        reply_to_id=in_reply_to or (references[-1] if references else ""),
        attachments=attachments,
        raw={
            "uid": uid,
            "uidvalidity": uidvalidity,
            "message_id": own_id,
            "subject": str(msg["Subject"] or ""),
            "from": str(msg["From"] or ""),
            "to": [a for _, a in getaddresses([str(v) for v in msg.get_all("To", [])])],
            "date": str(msg["Date"] or ""),
            "in_reply_to": in_reply_to,
            "references": references,
        },
    )


def _imap_error_text(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text)


class EmailConnector(Connector):
    kind = "email"
    label = "E-mail"
    capabilities = frozenset({Capability.POLL, Capability.REPLY, Capability.DIRECT_MESSAGE})
    # No practical length limit for e-mail; attachments are not sent yet.
    limits = Limits(message_length=100_000, direct_message_length=100_000, media_per_message=0)

    def __init__(self, account: Any):
        super().__init__(account)
        self._settings: EmailSettings | None = None

    @property
    def settings(self) -> EmailSettings:
        if self._settings is None:
            self._settings = load_settings(self.account)
        return self._settings

    # --- IMAP -------------------------------------------------------------------------

    def _imap(self) -> imaplib.IMAP4:
        s = self.settings
        where = f"IMAP {s.imap_host}:{s.imap_port}"
        try:
            conn: imaplib.IMAP4
            if s.imap_security == "ssl":
                conn = imaplib.IMAP4_SSL(
                    s.imap_host,
                    s.imap_port,
                    ssl_context=ssl.create_default_context(),
                    timeout=s.timeout,
                )
            else:
                conn = imaplib.IMAP4(s.imap_host, s.imap_port, timeout=s.timeout)
                if s.imap_security == "starttls":
                    conn.starttls(ssl.create_default_context())
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise ConnectorError(f"{where} unreachable: {exc}") from exc
        except imaplib.IMAP4.error as exc:
            raise ConnectorError(f"{where}: {_imap_error_text(exc)}") from exc
        try:
            conn.login(s.imap_user, s.imap_password.get_secret_value())
        except imaplib.IMAP4.abort as exc:
            raise ConnectorError(f"{where} dropped the connection: {exc}") from exc
        except imaplib.IMAP4.error as exc:
            _close(conn)
            raise ConnectorError(
                f"{where} refused the login of {s.imap_user}: {_imap_error_text(exc)}",
                permanent=True,
                reconnect=True,
            ) from exc
        except OSError as exc:
            raise ConnectorError(f"{where} unreachable: {exc}") from exc
        return conn

    def _select(self, conn: imaplib.IMAP4) -> tuple[str, int]:
        """Select the mailbox read-only (polling never changes flags); (UIDVALIDITY, EXISTS)."""
        mailbox = self.settings.imap_mailbox
        typ, data = conn.select(_quote(mailbox), readonly=True)
        if typ != "OK":
            raise ConnectorError(
                f"IMAP mailbox {mailbox!r} cannot be opened: {_imap_error_text(Exception(*data))}",
                permanent=True,
            )
        exists = int(data[0] or 0) if data and data[0] else 0
        _, validity = conn.response("UIDVALIDITY")
        return (validity[0] or b"").decode() if validity and validity[0] else "0", exists

    def poll(self, cursor: str) -> tuple[list[InboundMessage], str]:
        s = self.settings
        validity_seen, _, last = (cursor or "").partition(":")
        try:
            conn = self._imap()
            try:
                validity, _ = self._select(conn)
                last_uid = int(last) if validity_seen == validity and last.isdigit() else 0
                if validity_seen and validity_seen != validity:
                    logger.info(
                        "email account %s: UIDVALIDITY changed (%s → %s), reading the mailbox again",
                        getattr(self.account, "pk", None),
                        validity_seen,
                        validity,
                    )
                typ, data = conn.uid("SEARCH", f"UID {last_uid + 1}:*")
                if typ != "OK":
                    raise ConnectorError(f"IMAP search failed: {data!r}")
                # "n:*" always matches the newest message, even when its UID is below n.
                uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last_uid)
                uids = uids[: s.batch_size]
                messages: list[InboundMessage] = []
                mailbox_url = f"imap://{s.imap_host}/{s.imap_mailbox};UIDVALIDITY={validity}"
                own = s.from_address.lower()
                for uid in uids:
                    typ, fetched = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
                    raw = next((p[1] for p in fetched if isinstance(p, tuple)), None)
                    if typ != "OK" or raw is None:
                        raise ConnectorError(f"IMAP fetch of UID {uid} failed: {fetched!r}")
                    message = parse_message(
                        raw, uid=uid, uidvalidity=validity, mailbox_url=mailbox_url
                    )
                    if message.author.external_id == own:
                        continue  # our own reply, copied back to us
                    messages.append(message)
                next_cursor = f"{validity}:{uids[-1] if uids else last_uid}"
                return messages, next_cursor
            finally:
                _close(conn)
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise ConnectorError(f"IMAP {s.imap_host}:{s.imap_port}: {exc}") from exc
        except imaplib.IMAP4.error as exc:
            raise ConnectorError(f"IMAP {s.imap_host}: {_imap_error_text(exc)}") from exc

    def _parent_headers(self, message_id: str) -> tuple[str, list[str]]:
        """Subject and References of the message answered, read back from the mailbox; a
        failure here only costs the full References chain, never the send."""
        try:
            conn = self._imap()
        except ConnectorError as exc:
            logger.info("email: parent %s not looked up: %s", message_id, exc)
            return "", []
        try:
            self._select(conn)
            typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", _quote(message_id))
            uids = (data[0] or b"").split() if typ == "OK" and data else []
            if not uids:
                return "", []
            typ, fetched = conn.uid(
                "FETCH", uids[-1].decode(), "(BODY.PEEK[HEADER.FIELDS (SUBJECT REFERENCES)])"
            )
            raw = next((p[1] for p in fetched if isinstance(p, tuple)), b"")
            headers = email.message_from_bytes(raw, policy=email.policy.default)
            return str(headers["Subject"] or ""), message_ids(headers["References"])
        except (OSError, imaplib.IMAP4.error, ConnectorError) as exc:
            logger.info("email: parent %s not looked up: %s", message_id, exc)
            return "", []
        finally:
            _close(conn)

    # --- SMTP -------------------------------------------------------------------------

    def _smtp(self) -> smtplib.SMTP:
        s = self.settings
        where = f"SMTP {s.smtp_host}:{s.smtp_port}"
        try:
            conn: smtplib.SMTP
            if s.smtp_security == "ssl":
                conn = smtplib.SMTP_SSL(
                    s.smtp_host,
                    s.smtp_port,
                    timeout=s.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout)
                if s.smtp_security == "starttls":
                    conn.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                conn.login(s.smtp_user, s.smtp_password.get_secret_value())
        except smtplib.SMTPAuthenticationError as exc:
            raise ConnectorError(
                f"{where} refused the login of {s.smtp_user}: {exc.smtp_code} {_smtp_text(exc)}",
                permanent=True,
                reconnect=True,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise ConnectorError(f"{where}: {exc}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(where, exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectorError(f"{where} unreachable: {exc}") from exc
        return conn

    def message_id_for(self, idempotency_key: str) -> str:
        """Our Message-ID embeds the idempotency key, so a retried send is recognisable
        (the same id twice in a mailbox is one message to mail clients)."""
        domain = self.settings.from_address.rpartition("@")[2] or "relais.invalid"
        key = re.sub(r"[^A-Za-z0-9._-]", "-", idempotency_key)
        return f"<relais.{key}@{domain}>"

    def build_message(self, message: OutboundMessage) -> EmailMessage:
        s = self.settings
        if not message.recipient:
            raise ConnectorError("an e-mail needs a recipient address", permanent=True)
        parent = message.reply_to_id or message.thread_id
        subject, references = self._parent_headers(parent) if parent else ("", [])
        chain = [*references, parent] if references else [message.thread_id, parent]
        refs: list[str] = []
        for ref in chain:
            if ref and ref not in refs:
                refs.append(ref)
        msg = EmailMessage()
        msg["From"] = formataddr((s.from_name, s.from_address))
        msg["To"] = message.recipient
        subject = subject.strip() or str(getattr(self.account, "name", "") or "Your message")
        msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = self.message_id_for(message.idempotency_key)
        if parent:
            msg["In-Reply-To"] = parent
            msg["References"] = " ".join(refs)
        msg.set_content(message.text)
        return msg

    def send(self, message: OutboundMessage) -> Receipt:
        s = self.settings
        msg = self.build_message(message)
        where = f"SMTP {s.smtp_host}:{s.smtp_port}"
        conn = self._smtp()
        try:
            conn.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            reasons = "; ".join(f"{r}: {c} {_decode(m)}" for r, (c, m) in exc.recipients.items())
            temporary = all(400 <= c < 500 for c, _ in exc.recipients.values())
            raise ConnectorError(f"{where} refused {reasons}", permanent=not temporary) from exc
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(where, exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectorError(f"{where}: {exc}") from exc
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()
        own_id = str(msg["Message-ID"])
        return Receipt(
            external_id=own_id,
            thread_id=message.thread_id or message.reply_to_id or own_id,
        )

    # --- admin --------------------------------------------------------------------------

    def test_connection(self) -> str:
        s = self.settings
        conn = self._imap()
        try:
            _, exists = self._select(conn)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ConnectorError(f"IMAP {s.imap_host}: {exc}") from exc
        finally:
            _close(conn)
        smtp = self._smtp()
        try:
            smtp.noop()
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        login = f" as {s.smtp_user}" if s.smtp_user else ""
        return (
            f"IMAP {s.imap_user}@{s.imap_host}: {s.imap_mailbox} holds {exists} messages; "
            f"SMTP {s.smtp_host}:{s.smtp_port} accepted the connection{login}."
        )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _close(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        conn.logout()


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    return _decode(exc.smtp_error)


def _smtp_error(where: str, exc: smtplib.SMTPResponseException) -> ConnectorError:
    """4xx replies are temporary (greylisting, full queue), 5xx permanent, with the server's
    own words; 530/535 mean the login is needed or refused."""
    text = f"{where}: {exc.smtp_code} {_smtp_text(exc)}"
    if exc.smtp_code in (530, 534, 535):
        return ConnectorError(text, permanent=True, reconnect=True)
    if 400 <= exc.smtp_code < 500:
        return ConnectorError(text)
    return ConnectorError(text, permanent=True)
