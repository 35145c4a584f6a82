"""One multi-pattern matcher for every monitor of every organisation.

All the words, phrases, hashtags and mentions of all monitors go into one Aho-Corasick
automaton (pyahocorasick). A message is normalised once (relais.listening.query.normalise)
and scanned once; the text keys found, plus the message's lines, select the candidate
monitors of the message's organisation through each monitor's anchors, and only those
candidates evaluate their full boolean query. Pure Python, no Django: the bench builds
10,000 monitors with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from relais.listening.query import And, Field, Node, Not, Or, Term, anchors, from_json, normalise

SOURCES_ALL, SOURCES_OWN, SOURCES_LISTENING = "all", "own", "listening"


@dataclass(frozen=True)
class MonitorSpec:
    id: int
    organization_id: int
    tree: Any  # the JSON form (relais.listening.query.to_json)
    sources: str = SOURCES_ALL


@dataclass
class MessageFacts:
    """What a query can test about one message besides its text."""

    organization_id: int
    text: str
    lang: str = ""
    network: str = ""
    intent: str = ""
    lines: Iterable[str] = ()
    listening: bool = False  # from a listening source, not addressed to the organisation


@dataclass
class _Ctx:
    lits: set[int]
    facts: MessageFacts
    lines: frozenset[str] = field(default_factory=frozenset)


Predicate = Callable[[_Ctx], bool]


class Matcher:
    def __init__(self, monitors: Iterable[MonitorSpec]) -> None:
        self.literal_ids: dict[str, int] = {}
        self.index: dict[tuple[int, int], list[int]] = {}
        self.monitors: list[tuple[int, str, Predicate]] = []  # (monitor id, sources, predicate)
        self.skipped: list[tuple[int, str]] = []  # (monitor id, why)
        self.automaton = ahocorasick.Automaton()
        patterns: dict[str, set[int]] = {}
        for spec in monitors:
            try:
                tree = from_json(spec.tree)
                keys = anchors(tree)
            except (ValueError, TypeError, IndexError) as exc:
                self.skipped.append((spec.id, f"invalid compiled query: {exc}"))
                continue
            if not keys:
                self.skipped.append((spec.id, "no anchor"))
                continue
            predicate = self._compile(tree, patterns)
            slot = len(self.monitors)
            self.monitors.append((spec.id, spec.sources, predicate))
            for kind, value in keys:
                lid = self._literal(("line:" if kind == "line" else "") + value)
                self.index.setdefault((spec.organization_id, lid), []).append(slot)
        for pattern, lids in patterns.items():
            self.automaton.add_word(pattern, tuple(sorted(lids)))
        if patterns:
            self.automaton.make_automaton()
        self.has_patterns = bool(patterns)

    def __len__(self) -> int:
        return len(self.monitors)

    def _literal(self, key: str) -> int:
        lid = self.literal_ids.get(key)
        if lid is None:
            lid = self.literal_ids[key] = len(self.literal_ids)
        return lid

    def _compile(self, node: Node, patterns: dict[str, set[int]]) -> Predicate:
        if isinstance(node, Term):
            lid = self._literal(node.text)
            patterns.setdefault(f" {node.text} ", set()).add(lid)
            if node.kind == "word":
                # A word also finds its hashtag: "bombe" matches "#bombe".
                patterns.setdefault(f" #{node.text} ", set()).add(lid)
            return lambda ctx: lid in ctx.lits
        if isinstance(node, Field):
            value = node.value
            if node.name == "lang":
                return lambda ctx: ctx.facts.lang == value
            if node.name == "network":
                return lambda ctx: ctx.facts.network == value
            if node.name == "intent":
                return lambda ctx: ctx.facts.intent == value
            if node.name == "line":
                return lambda ctx: value in ctx.lines
            raise ValueError(f"unknown field {node.name}")
        if isinstance(node, Not):
            inner = self._compile(node.child, patterns)
            return lambda ctx: not inner(ctx)
        if isinstance(node, And):
            parts = tuple(self._compile(c, patterns) for c in node.children)

            def all_of(ctx: _Ctx) -> bool:
                # A loop: faster than all() over a generator on this hot path.
                for part in parts:  # noqa: SIM110
                    if not part(ctx):
                        return False
                return True

            return all_of
        if isinstance(node, Or):
            parts = tuple(self._compile(c, patterns) for c in node.children)

            def any_of(ctx: _Ctx) -> bool:
                for part in parts:  # noqa: SIM110 - faster than any() over a generator
                    if part(ctx):
                        return True
                return False

            return any_of
        raise TypeError(node)

    def text_literals(self, text: str) -> set[int]:
        """The literal ids (words, phrases, tags, mentions) found in a text."""
        if not self.has_patterns:
            return set()
        found: set[int] = set()
        for _end, lids in self.automaton.iter(normalise(text)):
            found.update(lids)
        return found

    def match(self, facts: MessageFacts) -> list[int]:
        """Ids of the monitors of the message's organisation that match it."""
        lits = self.text_literals(facts.text)
        lines = frozenset(facts.lines)
        org = facts.organization_id
        slots: set[int] = set()
        index = self.index
        for lid in lits:
            hit = index.get((org, lid))
            if hit:
                slots.update(hit)
        for line in lines:
            line_id = self.literal_ids.get("line:" + line)
            if line_id is not None and (hit := index.get((org, line_id))):
                slots.update(hit)
        if not slots:
            return []
        ctx = _Ctx(lits=lits, facts=facts, lines=lines)
        result = []
        for slot in sorted(slots):
            monitor_id, sources, predicate = self.monitors[slot]
            if sources == SOURCES_OWN and facts.listening:
                continue
            if sources == SOURCES_LISTENING and not facts.listening:
                continue
            if predicate(ctx):
                result.append(monitor_id)
        return result
