"""The replay connector: reads a scenario file and turns each line into an InboundMessage.

A scenario file is JSON Lines. An optional first line {"meta": {...}} describes it; every
other line is one message:
  {"at": seconds since the start, "id": "s1-0001", "network": "x", "kind": "mention"|"reply"|"dm",
   "author": {"handle": ..., "name": ..., "reach": ...}, "text": ..., "reply_to": id or null,
   "lang": "fr"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from relais.channels.contract import Author, Connector, InboundMessage, Limits, MessageKind


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True)
class ScenarioLine:
    at: float
    id: str
    network: str
    kind: MessageKind
    handle: str
    name: str
    reach: int
    text: str
    reply_to: str
    lang: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scenario:
    meta: dict[str, Any]
    lines: list[ScenarioLine]

    @property
    def duration(self) -> float:
        return self.lines[-1].at if self.lines else 0.0


def parse_line(data: dict[str, Any], number: int) -> ScenarioLine:
    try:
        author = data["author"]
        kind = MessageKind(data.get("kind", "mention"))
        return ScenarioLine(
            at=float(data["at"]),
            id=str(data["id"]),
            network=str(data.get("network", "x")),
            kind=kind,
            handle=str(author["handle"]).lstrip("@"),
            name=str(author.get("name", "")),
            reach=int(author.get("reach", 0)),
            text=str(data["text"]),
            reply_to=str(data.get("reply_to") or ""),
            lang=str(data.get("lang") or ""),
            raw=data,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"line {number}: {type(exc).__name__}: {exc}") from exc


def load_scenario(path: str | Path) -> Scenario:
    meta: dict[str, Any] = {}
    lines: list[ScenarioLine] = []
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ScenarioError(f"line {number}: not JSON: {exc}") from exc
            if not isinstance(data, dict):
                raise ScenarioError(f"line {number}: expected an object")
            if "meta" in data:
                meta = data["meta"]
                continue
            lines.append(parse_line(data, number))
    lines.sort(key=lambda line: line.at)
    return Scenario(meta=meta, lines=lines)


class ReplayConnector(Connector):
    """Receives only: its messages come from a file, and nothing is sent anywhere."""

    kind = "replay"
    label = "Replay"
    capabilities = frozenset()
    limits = Limits(message_length=280)

    @staticmethod
    def to_inbound(line: ScenarioLine, *, start: datetime, prefix: str = "") -> InboundMessage:
        """`prefix` keeps two plays of one file apart (each play is a new set of messages)."""
        external_id = f"{prefix}{line.id}"
        reply_to = f"{prefix}{line.reply_to}" if line.reply_to else ""
        return InboundMessage(
            external_id=external_id,
            kind=line.kind,
            author=Author(
                external_id=line.handle.lower(),
                handle=line.handle,
                display_name=line.name,
                reach=line.reach,
            ),
            text=line.text,
            created_at=start + timedelta(seconds=line.at),
            thread_id=reply_to,
            reply_to_id=reply_to,
            raw=line.raw,
        )
