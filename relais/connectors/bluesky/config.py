"""The Bluesky account's settings (config) and secrets (credentials), validated together."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from relais.channels.contract import ConnectorError

DEFAULT_SERVICE = "https://bsky.social"


class BlueskyConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # config: the PDS that hosts the account (bsky.social, or a self-hosted PDS)
    service: str = DEFAULT_SERVICE
    # seconds for each call to the network
    timeout: float = Field(default=15.0, gt=0, le=120)
    # languages of our posts (BCP 47, e.g. ["fr"]); empty: the SDK's default, English
    langs: list[str] = Field(default_factory=list, max_length=3)
    # credentials: the handle (or DID, or e-mail) and an app password, never the main one
    identifier: str = Field(min_length=1)
    app_password: SecretStr

    @field_validator("service")
    @classmethod
    def _service_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value.endswith("/xrpc"):
            value = value[: -len("/xrpc")]
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://bsky.social")
        return value

    @field_validator("identifier")
    @classmethod
    def _identifier(cls, value: str) -> str:
        return value.strip().removeprefix("@")

    @property
    def xrpc_url(self) -> str:
        return f"{self.service}/xrpc"


def load_config(account: Any) -> BlueskyConfig:
    data = {**(account.config or {}), **(account.credentials or {})}
    try:
        return BlueskyConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])} ({e['msg'].lower()})" for e in exc.errors()
        ]
        raise ConnectorError(
            f"Bluesky account settings incomplete or invalid: {', '.join(problems)} "
            "(see docs/connectors/bluesky.md)",
            permanent=True,
        ) from None
