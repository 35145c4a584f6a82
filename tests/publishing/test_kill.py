"""Nothing is posted twice even when a worker is killed mid-send.

A real `relais worker` process sends an alert to the sandbox network, which stores the post
and then waits before answering (pause_after_send). The worker is killed (SIGKILL) in that
window: the post is on the network, our delivery still says `sending`. The sweep (run as if
its five minutes had passed) puts the delivery back in the queue, a new worker sends it again
with the same idempotency key, the network answers with the first post: exactly one post,
and the publication ends `published`.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.test_workers import RELAIS, ROOT, _count, database, redis_url  # noqa: F401 - fixture

SEED = """
import django; django.setup()
from relais.common.testing import make_personas
from relais.channels.models import ChannelAccount
from relais.publishing import actions
p = make_personas()
ChannelAccount.objects.filter(pk=p.account.pk).update(config={"flavour": "x", "pause_after_send": 60})
publication = actions.publication_create(
    membership=p.operations, kind="alert", category="traffic", text="KILLTEST: trafic interrompu"
)
actions.publication_start(publication=publication, membership=p.operations)
print(publication.pk)
"""

# What the periodic sweep does, once the dead worker's claim is older than SENDING_TIMEOUT.
RECOVER = """
import django; django.setup()
from datetime import timedelta
from django.db.models import F
from relais.channels.models import Delivery
from relais.channels.tasks import sweep
Delivery.objects.update(claimed_at=F("claimed_at") - timedelta(minutes=10))
sweep.call_local()
"""

POSTS = "SELECT count(*) FROM sandbox_sandboxpost WHERE text LIKE 'KILLTEST%'"
DELIVERY_STATE = "SELECT state FROM channels_delivery"
PUBLICATION_STATE = "SELECT state FROM publishing_publication"


def _one(kind, url, sql):
    if kind == "sqlite":
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20) as conn:
            return conn.execute(sql).fetchone()[0]
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]


def _wait(predicate, worker, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
        time.sleep(0.2)
    raise AssertionError("timed out")


def _worker(env):
    return subprocess.Popen(
        [*RELAIS, "worker", "--threads", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _kill_mid_send(tmp_path, database, extra_env):  # noqa: F811 - the fixture's value
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
    assert _count(kind, url, POSTS) == 0  # queued, not sent

    first = _worker(env)
    try:
        _wait(lambda: _count(kind, url, POSTS) == 1, first)
        assert _one(kind, url, DELIVERY_STATE) == "sending"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert _one(kind, url, DELIVERY_STATE) == "sending"
    assert _one(kind, url, PUBLICATION_STATE) == "publishing"

    subprocess.run([sys.executable, "-c", RECOVER], env=env, cwd=ROOT, check=True, timeout=120)
    second = _worker(env)
    try:
        _wait(lambda: _one(kind, url, PUBLICATION_STATE) == "published", second)
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert _one(kind, url, DELIVERY_STATE) == "sent"
    assert _count(kind, url, POSTS) == 1  # exactly one post on the network
    assert _count(kind, url, "SELECT count(*) FROM channels_delivery") == 1
    assert _count(kind, url, "SELECT attempts FROM channels_delivery") == 2


@pytest.mark.django_db
def test_worker_killed_mid_send_posts_once_embedded_queue(tmp_path, database):  # noqa: F811
    _kill_mid_send(tmp_path, database, {"REDIS_URL": ""})


@pytest.mark.django_db
@pytest.mark.redis
def test_worker_killed_mid_send_posts_once_redis_queue(tmp_path, database):  # noqa: F811
    url = redis_url()
    import redis

    redis.Redis.from_url(url).flushdb()
    _kill_mid_send(tmp_path, database, {"REDIS_URL": url})
