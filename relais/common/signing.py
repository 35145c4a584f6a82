"""Webhook signatures and handshakes shared by every network that uses the common schemes:
"sha256=<hex HMAC-SHA256 of the raw body>" headers (Meta, WhatsApp, our generic webhook, the
SMS gateway) and the WebSub-style hub.challenge subscription handshake (Meta, WhatsApp)."""

from __future__ import annotations

import hashlib
import hmac


def sign(body: bytes, secret: str) -> str:
    """The header value a sender computes for `body`: 'sha256=<hex>'."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, secret: str, header: str) -> bool:
    """True when `header` is 'sha256=<hex>' of `body` with `secret`, compared in constant
    time (hex case-insensitive)."""
    header = header.strip()
    if not secret or not header.startswith("sha256="):
        return False
    given = "sha256=" + header.removeprefix("sha256=").lower()
    return hmac.compare_digest(given, sign(body, secret))


def hub_challenge(verify_token: str, params: dict[str, str]) -> str | None:
    """GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…: the challenge to echo,
    or None with a reason in the caller's error when it is not a valid subscription."""
    if params.get("hub.mode") != "subscribe":
        return None
    if not hmac.compare_digest(params.get("hub.verify_token", ""), verify_token):
        return None
    return params.get("hub.challenge", "")
