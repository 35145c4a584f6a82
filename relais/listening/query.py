"""The monitor query language: parse a query into a small tree, check it, serialise it.

    "alerte à la bombe" (aéroport OR airport OR #RennesAirport) -blague lang:fr
    @STAR_Rennes AND (line:C4 OR line:a) AND NOT intent:praise

Words and "exact phrases" match whole words, ignoring case and accents; a word also matches
the same hashtag (`bombe` finds `#bombe`), a #hashtag only the hashtag, an @mention only
the mention. Terms next to each other are ANDed; AND binds tighter than OR; NOT (or a
leading `-`) negates. Filters: lang:fr, network:x, line:<a line of the organisation, by
short name or GTFS id>, intent:<a triage intent>. Pure Python: the caller gives the lines
and intents that exist (see relais.listening.actions for the database side).

A query must contain at least one positive word, phrase, hashtag, mention or line that
every matching message carries (its "anchor"): that is what keeps the one matcher of all
monitors fast, and what refuses queries that would match nearly every message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

MAX_QUERY_LENGTH = 2000
MAX_TERMS = 200

FIELDS = ("lang", "network", "line", "intent")
NETWORKS = (
    "x",
    "facebook",
    "instagram",
    "bluesky",
    "mastodon",
    "whatsapp",
    "matrix",
    "email",
    "sms",
)

# Words that appear in a large share of French or English messages: a query anchored only
# on them would match nearly everything.
STOPWORDS = frozenset(
    """a à au aux avec ce ces c d de des du elle en est et il ils j je l la le les leur lui
    ma mais me mes moi mon ne ni nous on ou où par pas pour qu que qui sa se ses son sur ta
    te tes toi ton tu un une vos votre vous y ça ca oui non the an and or of to in is it
    for on at be are was i you he she we they this that with as by from not no yes my your
    me do s t rt via""".split()  # noqa: SIM905 - a paragraph of words reads better
)


class QueryError(ValueError):
    """A query that cannot be used, with the position (0-based offset) it is about."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"{self.message} (at character {self.position + 1})"

    def pointer(self, query: str) -> str:
        """The query with a caret under the offending character, for plain-text errors."""
        return f"{query}\n{' ' * self.position}^"


# --- normalisation (shared with the matcher: both sides must fold text the same way) ----

_SPECIAL_FOLDS = {"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d", "ı": "i"}


class _FoldTable(dict):
    """str.translate table built on demand: a letter or digit -> itself without accents
    (lower case is done before), '_' kept, '#' and '@' start a new token (" #", " @"),
    combining marks dropped, anything else (punctuation, spaces, emoji) -> a space. One
    C-level pass over the text."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in _SPECIAL_FOLDS:
            value = _SPECIAL_FOLDS[char]
        elif char == "_":
            value = char
        elif char in "#@":
            value = " " + char
        elif unicodedata.combining(char):
            value = ""
        elif char.isalnum():
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            value = base if base.isalnum() else char
        else:
            value = " "
        self[code] = value
        return value


_TOKENS = _FoldTable()
for _code in range(0x250):  # warm the common range, so that the table is read-only later
    _TOKENS[_code]  # noqa: B018 - fills the entry through __missing__


def _latin1_table() -> bytes:
    """Latin-1 byte -> lower-case ASCII letter or digit without accent, or a space; '_',
    '#' and '@' kept. ('?' stands for anything beyond Latin-1: a space too.)"""
    table = bytearray(256)
    for code in range(256):
        char = chr(code)
        if code < 128:
            value = char.lower() if (char.isalnum() or char in "_#@") else " "
        else:
            base = "".join(
                c
                for c in unicodedata.normalize("NFKD", char.lower())
                if not unicodedata.combining(c)
            )
            value = base if len(base) == 1 and base.isascii() and base.isalnum() else " "
        table[code] = ord(value)
    return bytes(table)


_LATIN1_TABLE = _latin1_table()
_LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"}
_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")


def fold(text: str) -> str:
    """Case and accent folding, punctuation to spaces: "L'Aéroport!" -> "l aeroport ".

    Latin text (with emoji and typographic punctuation) goes through one bytes table, at C
    speed; other scripts and accents typed as combining marks take the slower per-character
    table."""
    if not text.isascii():
        for ligature, letters in _LIGATURES.items():
            if ligature in text:
                text = text.replace(ligature, letters)
        beyond = _BEYOND_LATIN1.findall(text)
        if beyond and any(c.isalnum() or unicodedata.combining(c) for c in beyond):
            return text.lower().translate(_TOKENS)
    out = text.encode("latin-1", "replace").translate(_LATIN1_TABLE).decode("ascii")
    if "#" in out:
        out = out.replace("#", " #")
    if "@" in out:
        out = out.replace("@", " @")
    return out


def normalise(text: str) -> str:
    """The form the matcher searches: folded tokens separated by single spaces, with a
    space at both ends so that every pattern can be anchored on whole words. A '#' or '@'
    always starts a token ("a#b" -> "a #b"): hashtags and mentions are tokens of their own."""
    # Not " ".join(split()): replacing double spaces is about three times faster here.
    out = f" {fold(text)} "
    while "  " in out:
        out = out.replace("  ", " ")
    # A '#' or '@' with nothing after it is no hashtag nor mention.
    while " # " in out or " @ " in out:
        out = out.replace(" # ", " ").replace(" @ ", " ")
    return out


# --- the tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Term(Node):
    """A word, phrase, hashtag or mention; `text` is normalised (no outer spaces)."""

    kind: str  # word | phrase | hashtag | mention
    text: str


@dataclass(frozen=True)
class Field(Node):
    name: str  # lang | network | line | intent
    value: str  # normalised; for line: the GTFS route id once resolved


@dataclass(frozen=True)
class Not(Node):
    child: Node


@dataclass(frozen=True)
class And(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    children: tuple[Node, ...]


# --- tokenizer -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # word | phrase | field | lparen | rparen | and | or | not | minus
    value: str
    pos: int


_WORD_CHARS = re.compile(r"[^\s()\"]+")


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c == "(":
            tokens.append(Token("lparen", c, i))
            i += 1
        elif c == ")":
            tokens.append(Token("rparen", c, i))
            i += 1
        elif c in '"“”«»':
            close = {'"': '"', "“": "”", "”": "”", "«": "»", "»": "»"}[c]
            end = query.find(close, i + 1)
            if end < 0 and close != '"':
                end = query.find('"', i + 1)
            if end < 0:
                raise QueryError("this quote is never closed", i)
            tokens.append(Token("phrase", query[i + 1 : end], i))
            i = end + 1
        elif c == "-" and i + 1 < n and not query[i + 1].isspace() and query[i + 1] != "-":
            tokens.append(Token("minus", c, i))
            i += 1
        else:
            m = _WORD_CHARS.match(query, i)
            assert m is not None  # noqa: S101 - the character at i is neither space nor ( ) "
            word = m.group()
            upper = word.upper()
            if upper in ("AND", "OR", "NOT") and word == upper:
                tokens.append(Token(upper.lower(), word, i))
            elif ":" in word and word.split(":", 1)[0].lower() in FIELDS:
                tokens.append(Token("field", word, i))
            elif ":" in word and word.split(":", 1)[0].isalpha() and not word.startswith("http"):
                name = word.split(":", 1)[0]
                raise QueryError(
                    f"unknown filter '{name}:'; the filters are {', '.join(f + ':' for f in FIELDS)}",
                    i,
                )
            else:
                tokens.append(Token("word", word, i))
            i = m.end()
    return tokens


# --- parser (recursive descent) --------------------------------------------------------------


@dataclass
class Context:
    """What exists in the organisation: checks `line:` and `intent:` values."""

    resolve_line: Callable[[str], str | None] = lambda value: None
    intents: Iterable[str] = ()


class _Parser:
    def __init__(self, query: str, context: Context) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0
        self.context = context
        self.intents = set(context.intents)
        self.terms = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError("the query is empty", 0)
        node = self.parse_or()
        token = self.peek()
        if token is not None:
            if token.kind == "rparen":
                raise QueryError("this parenthesis closes nothing", token.pos)
            raise QueryError(f"unexpected '{token.value}'", token.pos)
        return node

    def parse_or(self) -> Node:
        first = self.parse_and()
        children = [first]
        while (token := self.peek()) is not None and token.kind == "or":
            self.take()
            if self.peek() is None or self.peek().kind in ("rparen", "or", "and"):  # type: ignore[union-attr]
                raise QueryError("OR needs a term on its right", token.pos)
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(first.pos, tuple(children))

    def parse_and(self) -> Node:
        first = self.parse_unary()
        children = [first]
        while (token := self.peek()) is not None and token.kind not in ("or", "rparen"):
            if token.kind == "and":
                self.take()
                if self.peek() is None or self.peek().kind in ("rparen", "or", "and"):  # type: ignore[union-attr]
                    raise QueryError("AND needs a term on its right", token.pos)
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(first.pos, tuple(children))

    def parse_unary(self) -> Node:
        token = self.peek()
        if token is None:
            raise QueryError("the query ends where a term was expected", len(self.query))
        if token.kind in ("not", "minus"):
            self.take()
            if self.peek() is None:
                raise QueryError(f"{token.value} needs a term after it", token.pos)
            return Not(token.pos, self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.take()
        if token.kind == "lparen":
            if self.peek() is None:
                raise QueryError("this parenthesis is never closed", token.pos)
            if self.peek().kind == "rparen":  # type: ignore[union-attr]
                raise QueryError("empty parentheses", token.pos)
            node = self.parse_or()
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise QueryError("this parenthesis is never closed", token.pos)
            self.take()
            return node
        if token.kind == "rparen":
            raise QueryError("this parenthesis closes nothing", token.pos)
        if token.kind in ("and", "or"):
            raise QueryError(f"{token.value} needs a term on its left", token.pos)
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(f"more than {MAX_TERMS} terms: split this monitor", token.pos)
        if token.kind == "field":
            return self.field(token)
        if token.kind == "phrase":
            text = normalise(token.value).strip()
            if not text:
                raise QueryError("this phrase has no word in it", token.pos)
            kind = "phrase" if " " in text else _term_kind(text)
            return Term(token.pos, kind, text)
        text = normalise(token.value).strip()
        if not text:
            raise QueryError(f"'{token.value}' has no letter or digit to search", token.pos)
        if " " in text:
            # "l'aéroport", "RER-B", "star-rennes.bsky.social": one word typed, several tokens.
            return Term(token.pos, "phrase", text)
        return Term(token.pos, _term_kind(text), text)

    def field(self, token: Token) -> Node:
        name, _, raw = token.value.partition(":")
        name = name.lower()
        value_pos = token.pos + len(name) + 1
        if not raw:
            raise QueryError(f"{name}: needs a value", value_pos)
        value = fold(raw)
        if name == "lang":
            if not re.fullmatch(r"[a-z]{2,3}", value):
                raise QueryError("lang: takes a language code such as fr or en", value_pos)
        elif name == "network":
            if value not in NETWORKS:
                raise QueryError(
                    f"unknown network '{raw}'; the networks are {', '.join(NETWORKS)}", value_pos
                )
        elif name == "intent":
            if value not in self.intents:
                raise QueryError(
                    f"unknown intent '{raw}'; the intents are {', '.join(sorted(self.intents))}",
                    value_pos,
                )
        elif name == "line":
            resolved = self.context.resolve_line(raw)
            if resolved is None:
                raise QueryError(f"no line '{raw}' in this organisation's network", value_pos)
            value = resolved
        return Field(token.pos, name, value)


def _term_kind(text: str) -> str:
    if text.startswith("#"):
        return "hashtag"
    if text.startswith("@"):
        return "mention"
    return "word"


# --- checks --------------------------------------------------------------------------------


def anchors(node: Node) -> set[tuple[str, str]] | None:
    """Keys that every matching message carries, one of which at least: ('t', pattern) for
    text, ('line', gtfs id) for lines. None when the query has no such key (it could
    match a message that has none of its words)."""
    if isinstance(node, Term):
        return {("t", node.text)}
    if isinstance(node, Field):
        return {("line", node.value)} if node.name == "line" else None
    if isinstance(node, Not):
        return None
    if isinstance(node, And):
        options = [a for a in (anchors(c) for c in node.children) if a]
        if not options:
            return None
        # The most selective child: the fewest keys, preferring text over lines.
        return min(
            options,
            key=lambda a: (any(_too_common(k) for k in a), len(a), sum(k[0] == "line" for k in a)),
        )
    if isinstance(node, Or):
        union: set[tuple[str, str]] = set()
        for child in node.children:
            a = anchors(child)
            if not a:
                return None
            union |= a
        return union
    raise TypeError(node)


def _too_common(key: tuple[str, str]) -> bool:
    kind, text = key
    if kind != "t":
        return False
    if text.startswith(("#", "@")):
        return False  # a hashtag or a mention is specific whatever its word
    return all(w in STOPWORDS or len(w) < 2 for w in text.split())


def check_selective(node: Node, query: str) -> set[tuple[str, str]]:
    """Refuse a query that would match nearly everything; return its anchor keys."""
    keys = anchors(node)
    if keys is None:
        raise QueryError(
            "this query would match nearly every message: it needs at least one word, "
            "phrase, hashtag, mention or line that every match contains (a NOT or a filter "
            "such as lang: alone selects almost everything)",
            node.pos,
        )
    common = sorted(k[1] for k in keys if _too_common(k))
    if common:
        raise QueryError(
            "this query would match nearly every message: "
            + ", ".join(f"'{c}'" for c in common)
            + " appear(s) in most messages; add a more specific word with AND",
            node.pos,
        )
    return keys


# --- (de)serialisation: the stored, compiled form ------------------------------------------


def to_json(node: Node) -> Any:
    if isinstance(node, Term):
        return ["t", node.kind, node.text]
    if isinstance(node, Field):
        return ["f", node.name, node.value]
    if isinstance(node, Not):
        return ["not", to_json(node.child)]
    if isinstance(node, And):
        return ["and", [to_json(c) for c in node.children]]
    if isinstance(node, Or):
        return ["or", [to_json(c) for c in node.children]]
    raise TypeError(node)


def from_json(data: Any) -> Node:
    tag = data[0]
    if tag == "t":
        return Term(0, data[1], data[2])
    if tag == "f":
        return Field(0, data[1], data[2])
    if tag == "not":
        return Not(0, from_json(data[1]))
    if tag == "and":
        return And(0, tuple(from_json(c) for c in data[1]))
    if tag == "or":
        return Or(0, tuple(from_json(c) for c in data[1]))
    raise ValueError(f"unknown node {tag!r}")


def terms(node: Node) -> list[Term]:
    """Every text term of the tree (for the matcher's patterns and the dashboard)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return terms(node.child)
    if isinstance(node, And | Or):
        return [t for c in node.children for t in terms(c)]
    return []


def parse(query: str, context: Context | None = None) -> Node:
    """Parse and check a query; raises QueryError with the position of the problem."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"the query is longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH
        )
    node = _Parser(query, context or Context()).parse()
    check_selective(node, query)
    return node
