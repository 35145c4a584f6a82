"""The WhatsApp account's settings (config) and secrets (credentials), validated together."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from relais.channels.contract import ConnectorError


class WhatsAppConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # config
    phone_number_id: str  # the business phone number's id (WhatsApp Manager > API setup)
    display_phone_number: str = ""
    business_account_id: str = ""
    graph_url: str = "https://graph.facebook.com"
    graph_version: str = "v21.0"
    # An approved template sent when the 24-hour customer service window is closed; without
    # one, a reply outside the window is refused with a clear reason.
    template_name: str = ""
    template_language: str = "en_US"
    # credentials
    access_token: SecretStr  # a System User token with whatsapp_business_messaging
    app_secret: SecretStr  # signs the webhooks (X-Hub-Signature-256)
    verify_token: SecretStr  # our choice, typed in the app dashboard for the handshake


def load_config(account: Any) -> WhatsAppConfig:
    data = {**(account.config or {}), **(account.credentials or {})}
    try:
        return WhatsAppConfig.model_validate(data)
    except ValidationError as exc:
        missing = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
        raise ConnectorError(
            f"WhatsApp account settings incomplete or invalid: {', '.join(missing)} "
            "(see docs/connectors/whatsapp.md)",
            permanent=True,
        ) from None
