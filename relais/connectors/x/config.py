"""The X account's settings (config) and secrets (credentials), validated together."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from relais.channels.contract import ConnectorError


class XConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # config
    user_id: str  # the numeric id of our account (GET /2/users/me tells it)
    # GET /2/dm_events needs an access level that includes direct messages; without it, set
    # false so that a refused DM poll does not stop the mentions.
    poll_direct_messages: bool = True
    # credentials: OAuth 1.0a user context (posting, DMs) and the app's bearer token (search)
    consumer_key: SecretStr
    consumer_secret: SecretStr  # also signs the Account Activity webhooks and the CRC
    access_token: SecretStr
    access_token_secret: SecretStr
    bearer_token: SecretStr | None = None


def load_config(account: Any) -> XConfig:
    data = {**(account.config or {}), **(account.credentials or {})}
    try:
        return XConfig.model_validate(data)
    except ValidationError as exc:
        missing = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
        raise ConnectorError(
            f"X account settings incomplete or invalid: {', '.join(missing)} "
            "(see docs/connectors/x.md)",
            permanent=True,
        ) from None
