"""Lines and stops of the organisation's own network, found as passengers write them.

Lines: "ligne C4", "la c4", "C4", "#C4", "#ligne4", "le métro a", "bus 11", "la 4", "L4", "M4".
A short name that is a bare number or a single letter is only taken with a word before it
that makes it a line ("ligne", "bus", "la", "le", "métro" …) and not followed by a unit
("le 11 novembre", "la 4e", "11h"): numbers are everywhere in messages.
Stops: every stop name, folded (no accents, lower case), with its usual variants ("st" for
"saint", hyphens as spaces, "#republique"); a name that is also an everyday word ("Gare",
"Mairie", "Stade") needs a word before it that makes it a stop ("arrêt", "station", "à").
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

from relais.triage.text import fold, strip_urls

LINE_CONTEXT = {
    "ligne",
    "lignes",
    "ln",
    "la",
    "le",
    "les",
    "du",
    "au",
    "bus",
    "car",
    "cars",
    "metro",
    "metros",
    "tram",
    "tramway",
    "navette",
    "line",
    "route",
    "the",
    "rer",
    "chronostar",
}
# After a bare number: it is a time, a date, a quantity, not a line.
NOT_AFTER_NUMBER = {
    "h",
    "heure",
    "heures",
    "hr",
    "hrs",
    "min",
    "mn",
    "minute",
    "minutes",
    "mins",
    "sec",
    "s",
    "km",
    "m",
    "euro",
    "euros",
    "eur",
    "e",
    "eme",
    "er",
    "ere",
    "pm",
    "am",
    "ans",
    "jours",
    "jour",
    "janvier",
    "fevrier",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "aout",
    "septembre",
    "octobre",
    "novembre",
    "decembre",
    "personnes",
    "fois",
    "bus",
    "metros",
    "rames",
    "pourcent",
    "places",
    "arrets",
    "stations",
    "passagers",
    "people",
    "times",
}
LINE_TAG_PREFIXES = ("ligne", "line", "metro", "bus", "tram", "l", "m")
# Words before a stop name that make an everyday word a stop. "à la poste" is the post office;
# "arrêt La Poste" is the stop: names that start with an article need a strong word.
STRONG_STOP_CONTEXT = {"arret", "arrets", "station", "stations", "stop", "direction", "dir", "terminus",
                       "pole", "quai", "descendre", "descends", "descend"}  # fmt: skip
STOP_CONTEXT = STRONG_STOP_CONTEXT | {"a", "de", "depuis", "vers", "at", "from", "to", "gare", "entre", "et",
                                      "bus", "tram", "jusqu", "jusque", "sur"}  # fmt: skip
ARTICLES = ("la ", "le ", "les ", "l ")
# Stop names that are everyday words: matched only after a stop context word.
COMMON_WORDS = {
    "gare",
    "mairie",
    "eglise",
    "poste",
    "la poste",
    "stade",
    "centre",
    "parc",
    "ecole",
    "college",
    "lycee",
    "hopital",
    "piscine",
    "cimetiere",
    "marche",
    "place",
    "pont",
    "port",
    "bourg",
    "chateau",
    "moulin",
    "chapelle",
    "croix",
    "bois",
    "foret",
    "plage",
    "cinema",
    "universite",
    "campus",
    "la gare",
    "le bourg",
    "les halles",
    "halles",
    "zone",
    "bel air",
    "le stade",
    "la mairie",
    "l eglise",
    "republique",
    "liberte",
    "commerce",
    "industrie",
    "musee",
    "theatre",
    "usine",
    "ferme",
    "lande",
    "landes",
    "rue",
    "avenue",
    "clinique",
    "prefecture",
    "tribunal",
    "rocade",
    "village",
    "ville",
    "champs",
    "les champs",
    "gaite",
}
_SPACES = re.compile(r"\s+")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def _norm(name: str) -> str:
    """Folded, punctuation as spaces: 'Saint-Jacques - Gaîté' → 'saint jacques gaite'."""
    return _SPACES.sub(" ", " ".join(_TOKEN.findall(fold(name)))).strip()


def _variants(name: str) -> set[str]:
    base = _norm(name)
    out = {base}
    # People write "st" and "ste" for both, and the full word where the feed abbreviates
    # ("Saint Jacques mairie" for "St-Jacques Mairie").
    swaps = [("saint ", "st "), ("sainte ", "ste "), ("sainte ", "st ")]
    swaps += [(short, long) for long, short in swaps[:2]]
    for before, after in swaps:
        for v in list(out):
            if f" {before}" in f" {v} ":
                out.add(f" {v} ".replace(f" {before}", f" {after}").strip())
    out |= {v.replace(" ", "") for v in list(out) if " " in v and len(v) > 6}  # "#SainteAnne"
    return {v for v in out if v}


@dataclass(frozen=True)
class RouteRef:
    gtfs_id: str
    short_name: str
    route_type: int


@dataclass(frozen=True)
class StopRef:
    gtfs_id: str
    name: str


class NetworkLexicon:
    def __init__(self, routes: Iterable[RouteRef], stops: Iterable[StopRef]):
        self.routes_by_short: dict[str, list[RouteRef]] = defaultdict(list)
        for route in routes:
            if route.short_name:
                self.routes_by_short[_norm(route.short_name).replace(" ", "")].append(route)
        # One entry per stop name: the first id stands for all the stops sharing it.
        by_name: dict[str, StopRef] = {}
        for stop in stops:
            by_name.setdefault(stop.name, stop)
        self.stops_by_name = by_name
        self._maybe_cache: dict[str, bool] = {}
        self.automaton = ahocorasick.Automaton()
        for stop in by_name.values():
            for variant in _variants(stop.name):
                if len(variant) < 3:
                    continue
                common = variant in COMMON_WORDS
                existing = self.automaton.get(variant, None) if variant in self.automaton else None
                refs = (existing[1] if existing else ()) + (stop,)
                self.automaton.add_word(variant, (variant, refs, common))
        if len(self.automaton):
            self.automaton.make_automaton()

    @classmethod
    def from_gtfs(cls, path: str | Path) -> NetworkLexicon:
        path = Path(path)
        with open(path / "routes.txt", encoding="utf-8-sig", newline="") as f:
            routes = [
                RouteRef(
                    r["route_id"], r.get("route_short_name") or "", int(r.get("route_type") or 3)
                )
                for r in csv.DictReader(f)
            ]
        stops: list[StopRef] = []
        if (path / "stops.txt").exists():
            with open(path / "stops.txt", encoding="utf-8-sig", newline="") as f:
                stops = [
                    StopRef(r["stop_id"], r["stop_name"])
                    for r in csv.DictReader(f)
                    if r.get("stop_name") and (r.get("location_type") or "0") in ("0", "1")
                ]
        return cls(routes, stops)

    @classmethod
    def for_organization(cls, organization_id: int) -> NetworkLexicon:
        from relais.transit.models import Route, Stop

        routes = [
            RouteRef(r.gtfs_id, r.short_name, r.route_type)
            for r in Route.objects.filter(organization_id=organization_id)
        ]
        stops = [
            StopRef(s.gtfs_id, s.name)
            for s in Stop.objects.filter(
                organization_id=organization_id, location_type__in=[0, 1]
            ).order_by("location_type", "gtfs_id")
        ]
        return cls(routes, stops)

    @classmethod
    def empty(cls) -> NetworkLexicon:
        return cls([], [])

    # --- lines ---------------------------------------------------------------------------
    def lines(self, text: str, folded: str | None = None) -> list[RouteRef]:
        """The lines a text names. `folded` is fold(strip_urls(text)) when the caller has it."""
        if folded is None:
            folded = fold(strip_urls(text))
        words = _TOKEN_OR_TAG.findall(folded)
        # The handles a reply starts with, and a retweet's "RT @x:", are addressees, not
        # what the message says: "@Ligne14_RATP merci" is not about line 14.
        start = 0
        while start < len(words) and (words[start].startswith("@") or words[start] == "rt"):
            start += 1
        words = words[start:]
        found: dict[str, RouteRef] = {}
        listing = False  # inside "les lignes 1, 2, 5 et 14"
        maybe = self._maybe_line
        for i, word in enumerate(words):
            routes = self._line_at(words, i, word) if maybe(word) else []
            if not routes and listing and word in self.routes_by_short and word.isdigit():
                routes = self.routes_by_short[word]
            if routes:
                listing = word.isdigit() and (listing or self._before(words, i) in LIST_CONTEXT)
                for route in routes:
                    found.setdefault(route.gtfs_id, route)
            elif word not in LIST_JOINERS:
                listing = False
        return list(found.values())

    def _maybe_line(self, word: str) -> bool:
        """Whether a word can name a line in some context: a tag, a short name (or "7b"), a
        word glued to a number ("l4", "ligne10"). Most words are none of these and skip the
        context rules; the answer is remembered per word."""
        try:
            return self._maybe_cache[word]
        except KeyError:
            pass
        maybe = (
            word[:1] in ("#", "@")
            or self._short(word) is not None
            or any(
                word.startswith(prefix) and word[len(prefix) : len(prefix) + 1].isdigit()
                for prefix in ("ligne", "line", "metro", "l", "m")
            )
        )
        if len(self._maybe_cache) < 200_000:
            self._maybe_cache[word] = maybe
        return maybe

    @staticmethod
    def _before(words: list[str], i: int) -> str:
        # "#ligne 7": a tag that names the kind of thing reads like the plain word.
        return words[i - 1].lstrip("#") if i > 0 else ""

    def _short(self, name: str) -> list[RouteRef] | None:
        """A short name, accepting "7b" for "7bis"."""
        routes = self.routes_by_short.get(name)
        if routes is None and name.endswith("b") and name[:-1].isdigit():
            routes = self.routes_by_short.get(name + "is")
        return routes

    def _line_at(self, words: list[str], i: int, word: str) -> list[RouteRef]:
        if word.startswith("#") or word.startswith("@"):
            # "@Ligne14_RATP" names line 14 inside a sentence; "@C4_fan" is someone.
            tag = word[1:].split("_")[0] if word.startswith("@") else word[1:]
            if word.startswith("@") and "_" in word and not tag.startswith(LINE_TAG_PREFIXES[:3]):
                return []
            direct = self._short(tag)
            if direct and not tag.isdigit() and len(tag) > 1:
                return direct
            for prefix in LINE_TAG_PREFIXES:
                if tag.startswith(prefix):
                    routes = self._short(tag[len(prefix) :])
                    if routes:
                        return routes
            # "#Prolongementligne14": a line named inside a longer tag.
            inside = _LINE_IN_TAG.search(tag)
            if inside and self._short(inside.group(1)):
                return self._short(inside.group(1)) or []
            return []
        candidates = self._short(word) if not word.isdigit() else self.routes_by_short.get(word)
        if candidates is None:
            # "L4", "M4", "ligne10": a word glued to a number.
            for prefix in ("ligne", "line", "metro", "l", "m"):
                rest = word[len(prefix) :]
                if word.startswith(prefix) and rest[:1].isdigit():
                    routes = self._short(rest)
                    if routes:
                        return routes
            return []
        ambiguous = word.isdigit() or len(word) == 1
        if not ambiguous:
            return candidates
        before = self._before(words, i)
        after = words[i + 1] if i + 1 < len(words) else ""
        if before not in LINE_CONTEXT:
            return []
        if word.isdigit() and (after in NOT_AFTER_NUMBER or after.endswith("h")):
            return []
        if (
            len(word) == 1
            and not word.isdigit()
            and before not in {"ligne", "lignes", "metro", "metros", "line"}
        ):
            return []  # "la a", "le b": only "ligne a", "métro b"
        return candidates

    # --- stops ---------------------------------------------------------------------------
    def stops(self, text: str, folded: str | None = None) -> list[StopRef]:
        """The stops a text names. `folded` is fold(strip_urls(text)) when the caller has it."""
        if not len(self.automaton):
            return []
        if folded is None:
            folded = fold(strip_urls(text))
        # Words only, one space between them: "#République," → " republique ".
        folded = " " + " ".join(_TOKEN.findall(folded)) + " "
        spans: list[tuple[int, int, tuple[StopRef, ...], bool]] = []
        for end, (variant, refs, common) in self.automaton.iter(folded):
            start = end - len(variant) + 1
            if folded[start - 1] != " " or folded[end + 1] != " ":
                continue  # inside a longer word
            if common:
                before = (folded[:start].split()[-1:] or [""])[0]
                needed = STRONG_STOP_CONTEXT if variant.startswith(ARTICLES) else STOP_CONTEXT
                if before not in needed:
                    continue
            spans.append((start, end, refs, common))
        # Longest match wins: "Saint-Jacques - Gaîté" over "Gaîté".
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        found: dict[str, StopRef] = {}
        last_end = -1
        for start, end, refs, _common in spans:
            if start <= last_end:
                continue
            last_end = end
            for ref in refs[:1]:
                found.setdefault(ref.name, ref)
        return list(found.values())


LIST_CONTEXT = {"ligne", "lignes", "lines", "line", "metro", "metros"}
LIST_JOINERS = {"et", "and", "ou", "or", "puis"}
_LINE_IN_TAG = re.compile(r"(?:ligne|line|metro)(\d+(?:bis)?)")
_TOKEN_OR_TAG = re.compile(r"@[\w.\-]+|#?[^\W_]+", re.UNICODE)  # a handle keeps its "_" and "."
