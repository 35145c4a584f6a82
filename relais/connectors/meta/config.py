"""The Meta account's settings (config) and secrets (credentials), validated together."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from relais.channels.contract import ConnectorError


class MetaConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # config
    page_id: str  # the Facebook Page id (the Instagram account is reached through it)
    instagram_account_id: str = ""  # the Instagram professional account id, for network=instagram
    graph_url: str = "https://graph.facebook.com"
    graph_version: str = "v21.0"
    # The HUMAN_AGENT message tag lets a person answer up to 7 days after the customer's
    # last message instead of 24 hours; the app needs Meta's "Human Agent" permission.
    human_agent_tag: bool = False
    # credentials
    page_access_token: SecretStr
    app_secret: SecretStr  # signs the webhooks (X-Hub-Signature-256)
    verify_token: SecretStr  # our choice, typed in the app dashboard for the handshake


def load_config(account: Any) -> MetaConfig:
    data = {**(account.config or {}), **(account.credentials or {})}
    try:
        return MetaConfig.model_validate(data)
    except ValidationError as exc:
        missing = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
        raise ConnectorError(
            f"Meta account settings incomplete or invalid: {', '.join(missing)} "
            "(see docs/connectors/meta.md)",
            permanent=True,
        ) from None
