"""The SMPP peer (tests/peers/smpp/server.js, an SMSC simulator on npm `smpp`), once a session."""

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from relais.common.testing import free_port

PEER_DIR = Path(__file__).resolve().parents[4] / "tests" / "peers" / "smpp"
SYSTEM_ID = "relais"
PASSWORD = "smscpw1"  # noqa: S105 - a throwaway test server (SMPP: 8 characters at most)


@dataclass
class SmscPeer:
    smpp_port: int
    control_port: int
    system_id: str = SYSTEM_ID
    password: str = PASSWORD

    @property
    def control(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"

    def submitted(self) -> list[dict]:
        return httpx.get(f"{self.control}/submitted", timeout=5).json()

    def inject_mo(self, source: str, destination: str, text: str) -> None:
        httpx.post(
            f"{self.control}/mo",
            json={
                "system_id": self.system_id,
                "source": source,
                "destination": destination,
                "text": text,
            },
            timeout=5,
        ).raise_for_status()

    def next_receipt(self, stat: str, err: str = "000") -> None:
        httpx.post(
            f"{self.control}/next-receipt", json={"stat": stat, "err": err}, timeout=5
        ).raise_for_status()


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def smsc():
    node = shutil.which("node")
    if node is None or not (PEER_DIR / "node_modules" / "smpp").is_dir():
        _unavailable(f"SMPP peer not installed ({PEER_DIR}/node_modules; run `make peers`)")
    peer = SmscPeer(smpp_port=free_port(), control_port=free_port())
    env = {**os.environ, "SMPP_USERS": f"{SYSTEM_ID}:{PASSWORD}"}
    log = open(os.devnull, "wb")  # noqa: SIM115 - closed after the process
    proc = subprocess.Popen(  # noqa: S603 - our own script
        [node, "server.js", str(peer.smpp_port), str(peer.control_port)],
        cwd=PEER_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    ready = False
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            ready = httpx.get(f"{peer.control}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            ready = False
        if ready:
            break
        time.sleep(0.05)
    if not ready:
        proc.kill()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        log.close()
        _unavailable(f"SMPP peer did not start: {err[-1000:]}")
    yield peer
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
