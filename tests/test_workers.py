"""Real worker processes on both task-queue modes: embedded (SQLite queue) and Redis.

Each test migrates a database of its own, queues work from one process and lets two
`relais worker` processes share it: every event must be processed exactly once.
"""

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
RELAIS = [sys.executable, "-m", "relais.cli"]
N = 300

SEED = f"""
import django; django.setup()
from relais.common.testing import make_personas, inbound
from relais.channels.ingest import ingest
p = make_personas()
for start in range(0, {N}, 50):
    ingest(account=p.account, messages=[inbound(f"msg {{i}}", handle=f"user{{i % 23}}") for i in range(start, start + 50)])
print("seeded")
"""


def redis_url() -> str:
    url = os.environ.get("RELAIS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI and is not reachable at {url}: {exc}")
        pytest.skip(f"Redis not reachable at {url}")
    return url


@pytest.fixture
def database(tmp_path):
    """A database of its own, of the same kind as the suite's, that subprocesses can share."""
    if connection.vendor == "postgresql":
        import psycopg

        params = connection.settings_dict
        name = f"relais_workers_{uuid.uuid4().hex[:8]}"
        admin = f"postgres://{params['USER'] or 'postgres'}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        yield ("postgresql", f"{admin}/{name}")
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        yield ("sqlite", f"sqlite:///{tmp_path / 'relais.sqlite3'}")


def _count(kind: str, url: str, sql: str) -> int:
    if kind == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20) as conn:
            return conn.execute(sql).fetchone()[0]
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]


def _run_two_workers(tmp_path, database, extra_env):
    kind, url = database
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "RELAIS_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **extra_env,
    }
    env.pop("RELAIS_TASKS_IMMEDIATE", None)
    subprocess.run([*RELAIS, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=300)
    subprocess.run([sys.executable, "-c", SEED], env=env, cwd=ROOT, check=True, timeout=120)
    assert _count(kind, url, "SELECT count(*) FROM inbox_message") == 0  # nothing processed yet
    workers = [
        subprocess.Popen(
            [*RELAIS, "worker", "--threads", "2"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (
                _count(kind, url, "SELECT count(*) FROM channels_rawevent WHERE state = 'done'")
                == N
            ):
                break
            assert all(w.poll() is None for w in workers), "a worker died"
            time.sleep(0.5)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
    assert _count(kind, url, "SELECT count(*) FROM channels_rawevent WHERE state = 'done'") == N
    assert _count(kind, url, "SELECT count(*) FROM inbox_message") == N
    assert _count(kind, url, "SELECT count(DISTINCT external_id) FROM inbox_message") == N
    assert _count(kind, url, "SELECT sum(message_count) FROM inbox_conversation") == N


@pytest.mark.django_db
def test_embedded_queue_two_worker_processes(tmp_path, database):
    _run_two_workers(tmp_path, database, {"REDIS_URL": ""})


@pytest.mark.django_db
@pytest.mark.redis
def test_redis_queue_two_worker_processes(tmp_path, database):
    url = redis_url()
    import redis

    redis.Redis.from_url(url).flushdb()
    _run_two_workers(tmp_path, database, {"REDIS_URL": url})
