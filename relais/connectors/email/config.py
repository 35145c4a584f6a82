"""The e-mail account's settings: config (hosts, ports, addresses) and credentials (passwords)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from relais.channels.contract import ConnectorError

Security = Literal["ssl", "starttls", "plain"]


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    imap_host: str
    imap_port: int = 993
    imap_security: Security = "ssl"
    imap_user: str
    imap_password: SecretStr
    imap_mailbox: str = "INBOX"
    smtp_host: str
    smtp_port: int = 587
    smtp_security: Security = "starttls"
    smtp_user: str = ""  # empty: the SMTP server takes mail without login
    smtp_password: SecretStr = SecretStr("")
    from_address: str
    from_name: str = ""
    timeout: float = 20.0
    batch_size: int = 200  # messages fetched per poll at most


def load_settings(account: Any) -> EmailSettings:
    """account.config + account.credentials, validated; a clear permanent error otherwise."""
    data = {**(account.config or {}), **(account.credentials or {})}
    try:
        return EmailSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConnectorError(f"e-mail account settings: {problems}", permanent=True) from None
