"""The mastodon_mock stand-in server (FastAPI) on 127.0.0.1, once per test session.

No real Mastodon server installs here (it needs Ruby, PostgreSQL, Redis, Sidekiq and
Node); PyPI's mastodon_mock implements the client API over SQLite and is what these tests
talk to. It lives in its own venv (var/peers/mastodon_mock, made by mk/mastodon.mk).
Without it the tests skip, or fail when CI=true.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from relais.common.testing import free_port

ROOT = Path(__file__).resolve().parents[4]
MOCK_PYTHON = ROOT / "var" / "peers" / "mastodon_mock" / "bin" / "python"
START_TIMEOUT = 120.0  # ~2 s when idle, much more on a loaded machine


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"mastodon_mock peer unavailable: {reason}")
    pytest.skip(f"mastodon_mock peer unavailable: {reason}")


@dataclass
class MastodonUser:
    id: str
    username: str
    access_token: str


@dataclass
class MastodonMock:
    url: str

    def call(self, method: str, path: str, token: str = "", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def user(self, username: str) -> MastodonUser:
        data = self.call("POST", "/api/v1/_mock/dev_user", json={"username": username})
        return MastodonUser(data["id"], data["username"], data["access_token"])

    def post(self, user: MastodonUser, text: str, **params: Any) -> dict[str, Any]:
        return self.call(
            "POST", "/api/v1/statuses", user.access_token, json={"status": text, **params}
        )

    def fault(self, rule: dict[str, Any]) -> None:
        self.call("POST", "/api/v1/_mock/faults", json=rule)

    def clear_faults(self) -> None:
        self.call("DELETE", "/api/v1/_mock/faults")


@pytest.fixture(scope="session")
def mastodon_mock(tmp_path_factory: pytest.TempPathFactory):
    if not MOCK_PYTHON.exists():
        unavailable(f"{MOCK_PYTHON} missing: run `make peers` (mk/mastodon.mk)")
    workdir = tmp_path_factory.mktemp("mastodon_mock")
    port = free_port()
    log = (workdir / "server.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own venv's python
        [str(MOCK_PYTHON), "-m", "mastodon_mock", "serve", "--host", "127.0.0.1"]
        + ["--port", str(port), "--in-memory", "--log-level", "warning"],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                unavailable(
                    f"mastodon_mock exited with {proc.returncode}: "
                    + (workdir / "server.log").read_text()[-2000:]
                )
            try:
                if httpx.get(url + "/api/v1/instance", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                unavailable(f"mastodon_mock did not answer on {url} within {START_TIMEOUT:.0f} s")
            time.sleep(0.1)
        yield MastodonMock(url=url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
