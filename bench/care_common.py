"""Shared by bench/sla.py and bench/inbox.py: a phase process per database, fast bulk
loading (executemany on SQLite, COPY on PostgreSQL), percentiles."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.environment import (
    PYTHON,
    ROOT,
    drop_postgres,
    phase_env,
    postgres_available,
    postgres_recreate,
)

PG_DATABASE = "relais_bench_care"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_phases(script: str, dbs: list[str], extra: list[str]) -> dict[str, dict]:
    """Run `script --phase DB` in a fresh process per database; collect its JSON line."""
    results: dict[str, dict] = {}
    for db in dbs:
        if db == "postgres" and not postgres_available():
            print("PostgreSQL does not answer on 127.0.0.1:5432: skipped", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory(prefix="relais-bench-care-") as tmp:
            env = phase_env(var_dir=Path(tmp), db="sqlite" if db == "sqlite" else "postgres")
            if db == "sqlite":
                env["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            else:
                postgres_recreate(PG_DATABASE)
                env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + PG_DATABASE
            try:
                out = subprocess.run(  # noqa: S603 - our own script
                    [PYTHON, str(ROOT / "bench" / script), "--phase", db, *extra],
                    env=env,
                    check=False,
                    capture_output=True,
                    text=True,
                )
                if out.returncode:
                    sys.stderr.write(out.stderr)
                    raise SystemExit(f"the {db} phase failed")
            finally:
                if db == "postgres":
                    drop_postgres(PG_DATABASE)
            sys.stderr.write(out.stderr)
            results[db] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def machine() -> str:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.python_implementation()} {platform.python_version()}, {cpu}"


def copy_rows(table: str, columns: list[str], rows) -> None:
    """Insert many rows fast: COPY on PostgreSQL, executemany on SQLite, in one
    transaction (SQLite in autocommit would sync each row to disk)."""
    from django.db import connection, transaction

    with transaction.atomic():
        _copy_rows(connection, table, columns, rows)


def _copy_rows(connection, table: str, columns: list[str], rows) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 20000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)


def reset_sequences(*models) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(sql)
