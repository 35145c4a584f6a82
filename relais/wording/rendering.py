"""Filling a template's {variables}: a missing value is an error that names it, never a blank."""

from __future__ import annotations

import re
from collections.abc import Mapping

# {line}, {stop}, {eta}, {incident_url}: lower-case names; "{{" and "}}" are literal braces.
VARIABLE = re.compile(r"\{\{|\}\}|\{([a-z][a-z0-9_]*)\}")


class MissingVariables(ValueError):
    def __init__(self, names: list[str]):
        self.names = names
        super().__init__("Missing value for " + ", ".join("{" + n + "}" for n in names))


def variables(text: str) -> list[str]:
    """The variable names a text uses, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in VARIABLE.finditer(text):
        if match.group(1):
            seen.setdefault(match.group(1), None)
    return list(seen)


def render(text: str, values: Mapping[str, object]) -> str:
    missing = [
        n for n in variables(text) if values.get(n) is None or str(values.get(n)).strip() == ""
    ]
    if missing:
        raise MissingVariables(missing)

    def fill(match: re.Match) -> str:
        found = match.group(0)
        if found == "{{":
            return "{"
        if found == "}}":
            return "}"
        return str(values[match.group(1)])

    return VARIABLE.sub(fill, text)
