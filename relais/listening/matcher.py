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
        # Every distinct pattern (" word ", " #word ", " a phrase ") has an id; the
        # automaton yields it. Lines have negative ids of their own.
        self.pattern_ids: dict[str, int] = {}
        self.line_ids: dict[str, int] = {}
        # organisation -> pattern or line id -> slots of the monitors anchored on it
        self.index: dict[int, dict[int, list[int]]] = {}
        self.monitors: list[tuple[int, str, Predicate]] = []  # (monitor id, sources, predicate)
        self.skipped: list[tuple[int, str]] = []  # (monitor id, why)
        self.automaton = ahocorasick.Automaton()
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
            predicate = self._compile(tree)
            slot = len(self.monitors)
            self.monitors.append((spec.id, spec.sources, predicate))
            org_index = self.index.setdefault(spec.organization_id, {})
            for kind, value in keys:
                ids = [self._line(value)] if kind == "line" else self._term_patterns(value)
                for key in ids:
                    org_index.setdefault(key, []).append(slot)
        for pattern, pid in self.pattern_ids.items():
            self.automaton.add_word(pattern, pid)
        if self.pattern_ids:
            self.automaton.make_automaton()
        self.has_patterns = bool(self.pattern_ids)

    def __len__(self) -> int:
        return len(self.monitors)

    def _pattern(self, pattern: str) -> int:
        pid = self.pattern_ids.get(pattern)
        if pid is None:
            pid = self.pattern_ids[pattern] = len(self.pattern_ids)
        return pid

    def _line(self, gtfs_id: str) -> int:
        lid = self.line_ids.get(gtfs_id)
        if lid is None:
            lid = self.line_ids[gtfs_id] = -1 - len(self.line_ids)
        return lid

    def _term_patterns(self, text: str) -> list[int]:
        """A term's pattern ids: a word also finds its hashtag ("bombe" matches "#bombe")."""
        ids = [self._pattern(f" {text} ")]
        if " " not in text and not text.startswith(("#", "@")):
            ids.append(self._pattern(f" #{text} "))
        return ids

    def _compile(self, node: Node) -> Predicate:
        if isinstance(node, Term):
            ids = self._term_patterns(node.text)
            if len(ids) == 1:
                only = ids[0]
                return lambda ctx: only in ctx.lits
            first, second = ids
            return lambda ctx: first in ctx.lits or second in ctx.lits
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
            inner = self._compile(node.child)
            return lambda ctx: not inner(ctx)
        if isinstance(node, And):
            parts = tuple(self._compile(c) for c in node.children)

            def all_of(ctx: _Ctx) -> bool:
                # A loop: faster than all() over a generator on this hot path.
                for part in parts:  # noqa: SIM110
                    if not part(ctx):
                        return False
                return True

            return all_of
        if isinstance(node, Or):
            parts = tuple(self._compile(c) for c in node.children)

            def any_of(ctx: _Ctx) -> bool:
                for part in parts:  # noqa: SIM110 - faster than any() over a generator
                    if part(ctx):
                        return True
                return False

            return any_of
        raise TypeError(node)

    def text_literals(self, text: str) -> set[int]:
        """The pattern ids (words, phrases, tags, mentions) found in a text."""
        if not self.has_patterns:
            return set()
        return {pid for _end, pid in self.automaton.iter(normalise(text))}

    def match(self, facts: MessageFacts) -> list[int]:
        """Ids of the monitors of the message's organisation that match it."""
        org_index = self.index.get(facts.organization_id)
        if not org_index:
            return []  # no monitor in this organisation: not even a scan
        # Inlined text_literals: this is the hot path (one call per message).
        lits = (
            {pid for _end, pid in self.automaton.iter(normalise(facts.text))}
            if self.has_patterns
            else set()
        )
        slots: set[int] = set()
        get = org_index.get
        for lid in lits:
            hit = get(lid)
            if hit:
                slots.update(hit)
        lines = facts.lines
        if lines:
            for line in lines:
                line_id = self.line_ids.get(line)
                if line_id is not None and (hit := get(line_id)):
                    slots.update(hit)
        if not slots:
            return []
        ctx = _Ctx(lits=lits, facts=facts, lines=frozenset(lines))
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
