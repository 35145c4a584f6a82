"""The SMS account's settings: which gateway, its address and credentials."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, model_validator

from relais.channels.contract import ConnectorError


class SmsSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    gateway: Literal["smpp", "http"] = "smpp"
    source_address: str  # our number (+33…) or an alphanumeric sender id
    max_parts: int = 6  # a long text is split into at most this many SMS
    # SMPP
    host: str = ""
    port: int = 2775
    system_id: str = ""
    system_type: str = ""
    password: SecretStr = SecretStr("")
    timeout: float = 10.0
    poll_seconds: float = 5.0  # how long one poll stays bound at most
    poll_idle_seconds: float = 0.5  # … and how long it waits once the SMSC goes quiet
    # HTTP gateway
    base_url: str = ""
    api_key: SecretStr = SecretStr("")
    webhook_secret: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _gateway_fields(self) -> SmsSettings:
        if self.gateway == "smpp":
            missing = [n for n in ("host", "system_id") if not getattr(self, n)]
            if not self.password.get_secret_value():
                missing.append("password")
        else:
            missing = [] if self.base_url else ["base_url"]
            for name in ("api_key", "webhook_secret"):
                if not getattr(self, name).get_secret_value():
                    missing.append(name)
        if missing:
            raise ValueError(f"the {self.gateway} gateway needs {', '.join(missing)}")
        return self


def load_settings(account: Any) -> SmsSettings:
    data = {**(account.config or {}), **(account.credentials or {})}
    try:
        return SmsSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            (f"{'.'.join(str(p) for p in e['loc'])}: " if e["loc"] else "") + e["msg"]
            for e in exc.errors()
        )
        raise ConnectorError(f"SMS account settings: {problems}", permanent=True) from None
