"""The e-mail peer for tests: aiosmtpd delivering into per-recipient Maildirs, dovecot serving
them over IMAP. Both bound to 127.0.0.1 on free ports; any user logs in with PASSWORD."""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from relais.common.testing import free_port

PASSWORD = "peer-password"  # noqa: S105 - a throwaway test server


def _open_to_all(path: Path) -> None:
    # Running as root, dovecot refuses uid 0 for mail: it reads as `nobody`, so the
    # Maildirs written by this (root) process must be writable by it.
    if os.getuid() == 0:
        for p in [path, *path.rglob("*")]:
            p.chmod(0o777 if p.is_dir() else 0o666)


class MaildirHandler:
    def __init__(self, root: Path):
        self.root = root

    def maildir(self, address: str) -> mailbox.Maildir:
        path = self.root / address.lower()
        box = mailbox.Maildir(path, create=True)
        _open_to_all(path)
        return box

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        for rcpt in envelope.rcpt_tos:
            box = self.maildir(rcpt)
            box.add(envelope.original_content or envelope.content)
            _open_to_all(self.root / rcpt.lower())
        return "250 Message accepted for delivery"


DOVECOT_CONF = """
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# No delay nor growing penalty after a wrong password: the tests try one on purpose.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
base_dir = {base}
state_dir = {state}
log_path = {log}
info_log_path = {log}
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {uid}
mail_location = maildir:{mail}/%Lu
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%Lu
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  user = {internal_user}
}}
service auth-worker {{
  user = {internal_user}
}}
service stats {{
  user = {internal_user}
}}
"""


class MailPeer:
    def __init__(self, root: Path):
        self.root = root
        self.mail = root / "mail"
        self.smtp_port = free_port()
        self.imap_port = free_port()
        self.password = PASSWORD
        self._controller: Controller | None = None
        self._base = root / "run"

    def start(self) -> None:
        dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(dovecot).exists():
            raise RuntimeError("dovecot is not installed (Debian dovecot-imapd; `make peers`)")
        for d in (self.mail, self._base, self.root / "state"):
            d.mkdir(parents=True, exist_ok=True)
        _open_to_all(self.mail)
        if os.getuid() == 0:
            import pwd

            nobody = pwd.getpwnam("nobody")
            uid, gid, login_user, internal_user = nobody.pw_uid, nobody.pw_gid, "nobody", "root"
        else:
            import pwd

            me = pwd.getpwuid(os.getuid()).pw_name
            uid, gid, login_user, internal_user = os.getuid(), os.getgid(), me, me
        conf = self.root / "dovecot.conf"
        conf.write_text(
            DOVECOT_CONF.format(
                base=self._base,
                state=self.root / "state",
                log=self.root / "dovecot.log",
                login_user=login_user,
                internal_user=internal_user,
                uid=uid,
                gid=gid,
                mail=self.mail,
                password=PASSWORD,
                port=self.imap_port,
            )
        )
        # dovecot forks into the background; its output goes to a file, not a pipe that
        # the daemon would keep open.
        errors = self.root / "dovecot.stderr"
        with errors.open("w") as err:
            result = subprocess.run(  # noqa: S603 - our own config, fixed binary
                [dovecot, "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                timeout=30,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(f"dovecot did not start: {errors.read_text().strip()}")
        self._controller = Controller(
            MaildirHandler(self.mail), hostname="127.0.0.1", port=self.smtp_port
        )
        self._controller.start()
        self._wait_imap()

    def _wait_imap(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=2)
                conn.login("health@peer.test", PASSWORD)
                conn.select("INBOX")
                conn.logout()
                return
            except (OSError, imaplib.IMAP4.error) as exc:
                last = exc
                time.sleep(0.1)
        log = (
            (self.root / "dovecot.log").read_text() if (self.root / "dovecot.log").exists() else ""
        )
        raise RuntimeError(f"dovecot did not answer on {self.imap_port}: {last}\n{log[-2000:]}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
        pid_file = self._base / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)

    def deliver_count(self, address: str) -> int:
        path = self.mail / address.lower()
        return len(mailbox.Maildir(path, create=False)) if path.exists() else 0

    def imap(self, address: str) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        conn.login(address, PASSWORD)
        return conn
