"""The Matrix account's config and credentials, validated before any call."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from relais.channels.contract import ConnectorError


class MatrixRoom(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room_id: str = Field(pattern=r"^!\S+$")  # !opaque:server, or !opaque in room v12
    # A citizens' room: every sender's messages form one conversation. An internal
    # (crisis) room: conversations follow Matrix threads and replies.
    public: bool = True


class MatrixConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    homeserver: str = Field(min_length=1)  # e.g. https://matrix.example.org
    user_id: str = Field(pattern=r"^@.+:.+$")  # the organisation's bot, e.g. @relais:example.org
    # Rooms watched; empty means every room the bot has joined (treated as citizens' rooms).
    rooms: list[MatrixRoom] = Field(default_factory=list)
    # Where a new post (not a reply) goes; defaults to the first room listed.
    publish_room: str = ""
    max_characters: int = Field(default=4000, gt=0)
    request_timeout: float = Field(default=20.0, gt=0)
    access_token: SecretStr | None = None
    password: SecretStr | None = None
    device_id: str = "RELAIS"

    @model_validator(mode="after")
    def _one_credential(self) -> MatrixConfig:
        if self.access_token is None and self.password is None:
            raise ValueError("credentials need an access_token or a password")
        return self

    def room(self, room_id: str) -> MatrixRoom:
        for room in self.rooms:
            if room.room_id == room_id:
                return room
        return MatrixRoom(room_id=room_id, public=True)


def load_config(account: Any) -> MatrixConfig:
    """account.config (homeserver, user_id, rooms …) + account.credentials (access_token or
    password) → MatrixConfig, or a permanent ConnectorError naming what is wrong."""
    data: dict[str, Any] = dict(account.config or {})
    credentials = dict(account.credentials or {})
    for key in ("access_token", "password"):
        if credentials.get(key):
            data[key] = credentials[key]
    problems = []
    if not data.get("access_token") and not data.get("password"):
        problems.append("credentials: an access_token or a password is needed")
    try:
        config = MatrixConfig.model_validate(data)
    except ValidationError as exc:
        problems += [
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
            for e in exc.errors()
            if "access_token or a password" not in e["msg"]
        ]
    if problems:
        raise ConnectorError(f"Matrix account settings: {'; '.join(problems)}", permanent=True)
    return config
