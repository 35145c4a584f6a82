"""A real Synapse homeserver on 127.0.0.1, once per test session, with a bot and two citizens.

Synapse lives in its own venv (var/peers/synapse, made by mk/matrix.mk): it is not in our
lock. Without it the tests skip, or fail when CI=true.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from relais.common.testing import free_port

ROOT = Path(__file__).resolve().parents[4]
SYNAPSE_VENV = ROOT / "var" / "peers" / "synapse"
SYNAPSE_PYTHON = SYNAPSE_VENV / "bin" / "python"
START_TIMEOUT = 180.0  # ~5 s when idle; a loaded 2-core machine has needed 40 s

RATE = {"per_second": 1000, "burst_count": 1000}

HOMESERVER_YAML = """\
server_name: localhost
pid_file: {dir}/homeserver.pid
public_baseurl: http://127.0.0.1:{port}/
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {dir}/homeserver.db
log_config: {dir}/log.yaml
media_store_path: {dir}/media
signing_key_path: {dir}/signing.key
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
report_stats: false
enable_registration: true
enable_registration_without_verification: true
registration_shared_secret: "{secret}"
macaroon_secret_key: "{macaroon}"
form_secret: "{form}"
url_preview_enabled: false
presence:
  enabled: false
rc_message: {rate}
rc_registration: {rate}
rc_login:
  address: {rate}
  account: {rate}
  failed_attempts: {rate}
rc_joins:
  local: {rate}
  remote: {rate}
rc_invites:
  per_room: {rate}
  per_user: {rate}
  per_issuer: {rate}
rc_admin_redaction: {rate}
"""

LOG_YAML = """\
version: 1
formatters:
  precise:
    format: '%(asctime)s %(name)s %(levelname)s %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: {dir}/homeserver.log
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
"""


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Synapse peer unavailable: {reason}")
    pytest.skip(f"Synapse peer unavailable: {reason}")


@dataclass
class MatrixUser:
    user_id: str
    access_token: str
    localpart: str
    password: str


@dataclass
class Synapse:
    url: str
    bot: MatrixUser
    citizen: MatrixUser
    citizen2: MatrixUser
    users: dict[str, MatrixUser] = field(default_factory=dict)

    def call(
        self, method: str, path: str, user: MatrixUser | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {user.access_token}"} if user else {}
        resp = httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def register(self, localpart: str) -> MatrixUser:
        password = secrets.token_urlsafe(12)
        data = self.call(
            "POST",
            "/_matrix/client/v3/register",
            json={
                "username": localpart,
                "password": password,
                "auth": {"type": "m.login.dummy"},
                "initial_device_display_name": "test",
            },
        )
        return MatrixUser(data["user_id"], data["access_token"], localpart, password)

    def create_room(self, owner: MatrixUser, name: str, invite: list[MatrixUser]) -> str:
        room_id = self.call(
            "POST",
            "/_matrix/client/v3/createRoom",
            owner,
            json={"preset": "public_chat", "name": name},
        )["room_id"]
        for member in invite:
            self.call("POST", f"/_matrix/client/v3/join/{room_id}", member, json={})
        return room_id

    def send_text(
        self, user: MatrixUser, room_id: str, body: str, relates: dict[str, Any] | None = None
    ) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if relates:
            content["m.relates_to"] = relates
        txn = secrets.token_hex(8)
        return self.call(
            "PUT",
            f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}",
            user,
            json=content,
        )["event_id"]


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    if not SYNAPSE_PYTHON.exists():
        unavailable(f"{SYNAPSE_PYTHON} missing: run `make peers` (mk/matrix.mk)")
    workdir = tmp_path_factory.mktemp("synapse")
    port = free_port()
    values = {
        "dir": workdir,
        "port": port,
        "secret": secrets.token_hex(16),
        "macaroon": secrets.token_hex(16),
        "form": secrets.token_hex(16),
        "rate": "{per_second: 1000, burst_count: 1000}",
    }
    config = workdir / "homeserver.yaml"
    config.write_text(HOMESERVER_YAML.format(**values))
    (workdir / "log.yaml").write_text(LOG_YAML.format(dir=workdir))
    # The signing key is made once per machine and copied: generating it costs seconds.
    cached_key = SYNAPSE_VENV / "signing.key"
    if cached_key.exists():
        shutil.copy(cached_key, workdir / "signing.key")
    else:
        gen = subprocess.run(  # noqa: S603 - our own venv's python
            [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "-c", str(config)]
            + ["--generate-keys"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if gen.returncode != 0:
            unavailable(f"key generation failed: {gen.stderr[-2000:]}")
        shutil.copy(workdir / "signing.key", cached_key)
    log = (workdir / "stdout.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own venv's python
        [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "-c", str(config)],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                tail = (workdir / "stdout.log").read_text()[-2000:]
                unavailable(f"synapse exited with {proc.returncode}: {tail}")
            try:
                if httpx.get(url + "/_matrix/client/versions", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                unavailable(f"synapse did not answer on {url} within {START_TIMEOUT:.0f} s")
            time.sleep(0.1)
        server = Synapse(url=url, bot=None, citizen=None, citizen2=None)  # type: ignore[arg-type]
        suffix = secrets.token_hex(3)
        server.bot = server.register(f"relais_{suffix}")
        server.citizen = server.register(f"maelle_{suffix}")
        server.citizen2 = server.register(f"yanis_{suffix}")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def citizens_room(synapse: Synapse) -> str:
    """A public room where citizens write to the operator."""
    return synapse.create_room(
        synapse.bot, "Alpha Transit - questions", [synapse.citizen, synapse.citizen2]
    )


@pytest.fixture(scope="session")
def crisis_room(synapse: Synapse) -> str:
    """The operator's internal crisis room: conversations follow threads and replies."""
    return synapse.create_room(synapse.citizen2, "Crisis cell", [synapse.bot])
