"""Throw-away databases and the environment a benchmark process runs Django with.

Each benchmark phase runs in a process of its own, because Django reads DATABASE_URL,
REDIS_URL and RELAIS_VAR_DIR once, at start-up, and a phase needs a fresh database.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
POSTGRES_ADMIN_URL = os.environ.get("RELAIS_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS_BENCH_URL = os.environ.get("RELAIS_BENCH_REDIS", "redis://127.0.0.1:6379/14")
PG_DATABASE = "relais_bench"

# Variables of the caller's shell that would change what a phase measures.
_CLEARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "RELAIS_VAR_DIR",
    "RELAIS_TASKS_IMMEDIATE",
    "RELAIS_BROKER",
    "RELAIS_INGEST_BATCH",
    "DJANGO_SETTINGS_MODULE",
)


def phase_env(*, var_dir: Path, db: str, redis: bool = False) -> dict[str, str]:
    """The environment of a phase process: a private var dir (the SQLite task queue lives
    there), the database, and Redis only when asked."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env["RELAIS_VAR_DIR"] = str(var_dir)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env["RELAIS_LOG_LEVEL"] = "WARNING"
    if db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{var_dir / 'relais.sqlite3'}"
    elif db == "postgres":
        env["DATABASE_URL"] = f"{POSTGRES_ADMIN_URL}/{PG_DATABASE}"
    else:
        raise ValueError(db)
    if redis:
        env["REDIS_URL"] = REDIS_BENCH_URL
    return env


def _admin_connection():
    import psycopg

    return psycopg.connect(f"{POSTGRES_ADMIN_URL}/postgres", autocommit=True)


def postgres_recreate(name: str = PG_DATABASE) -> None:
    drop_postgres(name)
    with _admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_postgres(name: str = PG_DATABASE) -> None:
    with _admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_available() -> bool:
    try:
        with _admin_connection() as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def redis_flush() -> None:
    """The bench owns its Redis database number (14 by default): empty it before and after."""
    import redis

    redis.Redis.from_url(REDIS_BENCH_URL).flushdb()


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_BENCH_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


def django_setup() -> None:
    """Called inside a phase process, whose environment phase_env() made."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


BENCH_USER = "bench"
BENCH_PASSWORD = "relais-bench-password"  # noqa: S105 - a throw-away database's user


def create_org_and_account():
    """An organisation, a team, an administrator who can sign in, a sandbox account."""
    from django.contrib.auth import get_user_model

    from relais.accounts.models import Membership, Organization, Role, Team
    from relais.channels.models import ChannelAccount

    org = Organization.objects.create(slug="bench", name="Bench Transit")
    team = Team.objects.create(organization=org, name="Passenger care", slug="care")
    user = get_user_model().objects.create_user(username=BENCH_USER, password=BENCH_PASSWORD)
    Membership.objects.create(user=user, organization=org, role=Role.ADMIN)
    account = ChannelAccount.objects.create(
        organization=org,
        kind="sandbox",
        network="x",
        handle="STAR_Rennes",
        name="STAR on X",
        default_team=team,
        config={"flavour": "x"},
    )
    return org, account
