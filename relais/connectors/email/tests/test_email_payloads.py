"""Parsing of recorded messages (fixtures/*.eml): threading, text, names, attachments."""

# ruff: noqa: S101

from pathlib import Path

from relais.channels.contract import MessageKind
from relais.connectors.email.connector import html_to_text, parse_message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_first_message_prefers_the_text_part():
    m = parse_message((FIXTURES / "plain_alternative.eml").read_bytes(), uid=7, uidvalidity="9")
    assert m.external_id == "<first.42@example.org>"
    assert m.thread_id == "<first.42@example.org>" and m.reply_to_id == ""
    assert m.kind == MessageKind.DM
    assert m.author.external_id == "jean.martin@example.org"
    assert m.author.display_name == "Jean Martin"
    assert m.text == "Le bus de la ligne 4 n'est pas passé."
    assert m.created_at.isoformat() == "2026-11-23T06:00:00+00:00"
    assert m.raw["subject"] == "Ligne 4"


def test_html_only_answer_in_a_thread():
    m = parse_message(
        (FIXTURES / "html_only_rfc2047.eml").read_bytes(),
        uid=12,
        uidvalidity="9",
        mailbox_url="imap://mail.city.example/INBOX;UIDVALIDITY=9",
    )
    assert m.thread_id == "<root.1@example.net>"  # the first id in References
    assert m.reply_to_id == "<relais.msg-1-aaaa@city.example>"
    assert m.author.display_name == "Zoé Dupont"  # RFC 2047, decoded
    assert m.raw["subject"] == "Arrêt Mairie déplacé ?"
    assert "<" not in m.text and "color" not in m.text
    assert m.text == "L'arrêt Mairie est-il déplacé\xa0?\n\nMerci & bonne journée"
    assert len(m.attachments) == 1
    attachment = m.attachments[0]
    assert attachment.mime_type == "image/jpeg" and attachment.description == "arret.jpg"
    assert attachment.url == "imap://mail.city.example/INBOX;UIDVALIDITY=9;UID=12"
    assert m.created_at.isoformat() == "2026-11-23T06:30:00+00:00"


def test_html_to_text_drops_scripts():
    assert html_to_text("<div>a<script>alert(1)</script></div><br>b &lt;c&gt;") == "a\n\nb <c>"
