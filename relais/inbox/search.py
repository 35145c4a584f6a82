"""Full-text search over messages behind one interface: FTS5 on SQLite, tsvector on PostgreSQL."""

from __future__ import annotations

import re

from django.db import connection
from django.db.models.expressions import RawSQL

_TOKEN = re.compile(r"\w+", re.UNICODE)

# Both indexes are created by migration 0002_message_search.
SQLITE_FTS_SQL = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS inbox_message_fts USING fts5(
        text, content='inbox_message', content_rowid='id', tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER IF NOT EXISTS inbox_message_fts_ai AFTER INSERT ON inbox_message BEGIN
        INSERT INTO inbox_message_fts(rowid, text) VALUES (new.id, new.text); END""",
    """CREATE TRIGGER IF NOT EXISTS inbox_message_fts_ad AFTER DELETE ON inbox_message BEGIN
        INSERT INTO inbox_message_fts(inbox_message_fts, rowid, text) VALUES ('delete', old.id, old.text); END""",
    """CREATE TRIGGER IF NOT EXISTS inbox_message_fts_au AFTER UPDATE OF text ON inbox_message BEGIN
        INSERT INTO inbox_message_fts(inbox_message_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO inbox_message_fts(rowid, text) VALUES (new.id, new.text); END""",
]
SQLITE_FTS_DROP = [
    "DROP TRIGGER IF EXISTS inbox_message_fts_ai",
    "DROP TRIGGER IF EXISTS inbox_message_fts_ad",
    "DROP TRIGGER IF EXISTS inbox_message_fts_au",
    "DROP TABLE IF EXISTS inbox_message_fts",
]
# PostgreSQL's parser reads "<script>" as a tag and drops it; the characters that make
# tags are turned into spaces so that every word people wrote is searchable.
POSTGRES_FTS_SQL = [
    "CREATE INDEX IF NOT EXISTS inbox_message_text_fts ON inbox_message "
    "USING gin (to_tsvector('simple', translate(text, '<>&/', '    ')))",
]
POSTGRES_FTS_DROP = ["DROP INDEX IF EXISTS inbox_message_text_fts"]


def tokens(query: str) -> list[str]:
    """User input never reaches the query language as syntax: words only, each quoted."""
    return _TOKEN.findall(query)[:20]


def matching_message_ids(query: str) -> RawSQL | None:
    """A subquery of the ids of messages containing every word of `query` (prefix match on
    the last word on SQLite), or None when the query has no word."""
    words = tokens(query)
    if not words:
        return None
    if connection.vendor == "sqlite":
        fts = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
        return RawSQL(
            "SELECT rowid FROM inbox_message_fts WHERE inbox_message_fts MATCH %s", [fts.strip()]
        )
    if connection.vendor == "postgresql":
        tsquery = " & ".join(w.replace("'", "") for w in words[:-1])
        last = words[-1].replace("'", "") + ":*"
        tsquery = f"{tsquery} & {last}" if tsquery else last
        return RawSQL(
            "SELECT id FROM inbox_message "
            "WHERE to_tsvector('simple', translate(text, '<>&/', '    ')) @@ to_tsquery('simple', %s)",
            [tsquery],
        )
    raise NotImplementedError(f"no full-text search for {connection.vendor}")


def ensure_sqlite_index(connection) -> bool:
    """SQLite rebuilds a table to alter it, dropping its triggers: after every migration,
    put them back and re-index if they had gone. Returns True when it repaired something."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'inbox_message_fts_%'"
        )
        if cursor.fetchone()[0] == 3:
            return False
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'inbox_message'")
        if cursor.fetchone()[0] == 0:
            return False  # not migrated yet
        for sql in SQLITE_FTS_SQL:
            cursor.execute(sql)
        cursor.execute("INSERT INTO inbox_message_fts(inbox_message_fts) VALUES ('rebuild')")
    return True


def install(schema_editor) -> None:
    statements = SQLITE_FTS_SQL if schema_editor.connection.vendor == "sqlite" else POSTGRES_FTS_SQL
    for sql in statements:
        schema_editor.execute(sql)


def uninstall(schema_editor) -> None:
    statements = (
        SQLITE_FTS_DROP if schema_editor.connection.vendor == "sqlite" else POSTGRES_FTS_DROP
    )
    for sql in statements:
        schema_editor.execute(sql)
