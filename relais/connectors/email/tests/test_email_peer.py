"""The e-mail connector against a real SMTP server (aiosmtpd) and a real IMAP server (dovecot),
through the product's own polling, pipeline and delivery paths."""

# ruff: noqa: S101, S105, S106

import email
import email.policy
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest

from relais.channels.contract import ConnectorError, MessageKind, OutboundMessage
from relais.channels.models import AccountStatus, ChannelAccount, DeliveryState
from relais.channels.pipeline import process_pending
from relais.channels.polling import poll_account
from relais.connectors.email.connector import EmailConnector
from relais.inbox.actions import conversation_reply
from relais.inbox.models import Conversation, Message


def _addresses() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"contact-{tag}@city.example", f"citizen-{tag}@example.net"


def _settings(peer, org_address: str, **overrides) -> tuple[dict, dict]:
    config = {
        "imap_host": "127.0.0.1",
        "imap_port": peer.imap_port,
        "imap_security": "plain",
        "imap_user": org_address,
        "smtp_host": "127.0.0.1",
        "smtp_port": peer.smtp_port,
        "smtp_security": "plain",
        "from_address": org_address,
        "from_name": "Alpha Transit",
        "timeout": 5,
    }
    config.update(overrides)
    return config, {"imap_password": peer.password}


def _account(personas, peer, org_address: str, **overrides) -> ChannelAccount:
    config, credentials = _settings(peer, org_address, **overrides)
    return ChannelAccount.objects.create(
        organization=personas.org,
        kind="email",
        network="email",
        handle=org_address,
        name="Alpha Transit mail",
        config=config,
        credentials=credentials,  # type: ignore[misc]
    )


def _send_as_citizen(peer, sender: str, to: str, subject: str, text: str, **headers) -> str:
    msg = EmailMessage()
    msg["From"] = f"Zoé Dupont <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain="example.net")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(text)
    with smtplib.SMTP("127.0.0.1", peer.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)
    return str(msg["Message-ID"])


def _read_mailbox(peer, address: str) -> list[EmailMessage]:
    conn = peer.imap(address)
    try:
        conn.select("INBOX", readonly=True)
        _, data = conn.uid("SEARCH", "ALL")
        out = []
        for uid in (data[0] or b"").split():
            _, fetched = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            raw = next(p[1] for p in fetched if isinstance(p, tuple))
            out.append(email.message_from_bytes(raw, policy=email.policy.default))
        return out
    finally:
        conn.logout()


@pytest.mark.django_db
def test_citizen_mail_reply_and_answer_in_one_conversation(
    personas, mail_peer, django_capture_on_commit_callbacks
):
    org_address, citizen = _addresses()
    account = _account(personas, mail_peer, org_address)
    first_id = _send_as_citizen(
        mail_peer, citizen, org_address, "Bus 42 en retard", "Le bus 42 a 20 minutes de retard."
    )

    assert poll_account(account.pk) == 1
    process_pending()
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE, account.last_error
    conversation = Conversation.objects.get(account=account)
    assert conversation.is_private
    assert conversation.thread_external_id == first_id
    inbound = Message.objects.get(conversation=conversation, external_id=first_id)
    assert inbound.text == "Le bus 42 a 20 minutes de retard."
    assert conversation.contact.handle == citizen
    assert conversation.contact.display_name == "Zoé Dupont"

    # Our reply, through the product's delivery path, reaches the citizen's mailbox threaded.
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            conversation=conversation, membership=personas.agent_a, text="Merci, nous vérifions."
        )
    reply.refresh_from_db()
    delivery = reply.delivery
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    received = _read_mailbox(mail_peer, citizen)
    assert len(received) == 1
    ours = received[0]
    assert ours["Message-ID"] == delivery.external_id
    assert delivery.idempotency_key in ours["Message-ID"]
    assert ours["In-Reply-To"] == first_id
    assert ours["References"].split() == [first_id]
    assert ours["Subject"] == "Re: Bus 42 en retard"
    assert ours["From"].addresses[0].addr_spec == org_address
    assert ours.get_content().strip() == "Merci, nous vérifions."

    # The citizen answers our reply: same conversation, threaded on the first message.
    answer_id = _send_as_citizen(
        mail_peer,
        citizen,
        org_address,
        "Re: Re: Bus 42 en retard",
        "Merci !",
        In_Reply_To=ours["Message-ID"],
        References=f"{first_id} {ours['Message-ID']}",
    )
    assert poll_account(account.pk) == 1
    process_pending()
    answer = Message.objects.get(external_id=answer_id)
    assert answer.conversation_id == conversation.pk
    assert answer.thread_external_id == first_id
    assert answer.reply_to_external_id == ours["Message-ID"]

    # A third poll finds nothing new: the cursor moved past every UID.
    account.refresh_from_db()
    validity, _, last_uid = account.cursor.partition(":")
    assert validity and last_uid == "2"
    messages, cursor = EmailConnector(account).poll(account.cursor)
    assert messages == [] and cursor == account.cursor
    assert poll_account(account.pk) == 0


@pytest.mark.django_db
def test_uidvalidity_change_reads_the_mailbox_again(personas, mail_peer):
    org_address, citizen = _addresses()
    account = _account(personas, mail_peer, org_address)
    sent = _send_as_citizen(mail_peer, citizen, org_address, "Horaires", "Quels horaires ?")
    connector = EmailConnector(account)
    messages, cursor = connector.poll("")
    assert [m.external_id for m in messages] == [sent]
    assert messages[0].kind == MessageKind.DM
    assert connector.poll(cursor)[0] == []
    # Another UIDVALIDITY than the server's: the old UIDs mean nothing, read it all again.
    again, again_cursor = connector.poll("1:999")
    assert [m.external_id for m in again] == [sent]
    assert again_cursor == cursor


@pytest.mark.django_db
def test_test_connection_reports_the_mailbox(personas, mail_peer):
    org_address, citizen = _addresses()
    account = _account(personas, mail_peer, org_address)
    _send_as_citizen(mail_peer, citizen, org_address, "Bonjour", "Bonjour")
    text = EmailConnector(account).test_connection()
    assert "INBOX holds 1 messages" in text
    assert f"SMTP 127.0.0.1:{mail_peer.smtp_port}" in text


@pytest.mark.django_db
def test_wrong_password_marks_the_account_to_reconnect(personas, mail_peer):
    org_address, _ = _addresses()
    account = _account(personas, mail_peer, org_address)
    account.credentials = {"imap_password": "not-the-password"}
    account.save()
    with pytest.raises(ConnectorError) as err:
        EmailConnector(account).test_connection()
    assert err.value.reconnect and err.value.permanent
    assert "refused the login" in str(err.value)
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT
    assert "refused the login" in account.last_error


@pytest.mark.django_db
def test_server_down_is_temporary_and_recovers(personas, mail_peer):
    from relais.connectors.email.tests.peer import free_port

    org_address, citizen = _addresses()
    account = _account(personas, mail_peer, org_address, imap_port=free_port())
    with pytest.raises(ConnectorError) as err:
        EmailConnector(account).poll("")
    assert not err.value.permanent and not err.value.reconnect
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.ERROR
    assert "unreachable" in account.last_error

    # The server comes back: the next poll clears the error by itself.
    _send_as_citizen(mail_peer, citizen, org_address, "Retour", "Ça remarche ?")
    account.config["imap_port"] = mail_peer.imap_port
    account.polled_at = None
    account.save()
    assert poll_account(account.pk) == 1
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.last_error == ""


@pytest.mark.django_db
def test_smtp_down_is_a_temporary_send_error(personas, mail_peer):
    from relais.connectors.email.tests.peer import free_port

    org_address, citizen = _addresses()
    account = _account(personas, mail_peer, org_address, smtp_port=free_port())
    with pytest.raises(ConnectorError) as err:
        EmailConnector(account).send(
            OutboundMessage(idempotency_key="k1", kind=MessageKind.DM, text="x", recipient=citizen)
        )
    assert not err.value.permanent


def test_missing_settings_are_a_clear_permanent_error():
    account = ChannelAccount(kind="email", network="email", config={"imap_host": "x"})
    with pytest.raises(ConnectorError) as err:
        EmailConnector(account).poll("")
    assert err.value.permanent
    assert "imap_user" in str(err.value) and "imap_password" in str(err.value)
