"""The Mastodon account's config and credentials, validated before any call."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from relais.channels.contract import ConnectorError


class MastodonConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    api_base_url: str = Field(pattern=r"^https?://[^/\s]+")  # e.g. https://mastodon.social
    access_token: SecretStr = Field(min_length=1)
    # Instances differ (500 by default; glitch-soc and others allow more): the admin's
    # "test connection" reads the instance's own figure and says if this one is too high.
    max_characters: int = Field(default=500, gt=0)
    request_timeout: float = Field(default=20.0, gt=0)


def load_config(account: Any) -> MastodonConfig:
    """account.config (api_base_url, max_characters) + account.credentials (access_token)
    → MastodonConfig, or a permanent ConnectorError naming what is missing."""
    data: dict[str, Any] = dict(account.config or {})
    token = (account.credentials or {}).get("access_token")
    if token:
        data["access_token"] = token
    try:
        return MastodonConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ConnectorError(f"Mastodon account settings: {problems}", permanent=True) from None
