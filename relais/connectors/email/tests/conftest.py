"""The e-mail peer, started once per test session."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from relais.connectors.email.tests.peer import MailPeer


@pytest.fixture(scope="session")
def mail_peer():
    # Not pytest's tmp_path: its parent is private to us, and dovecot's mail processes
    # (as `nobody` when we are root) must reach the Maildirs.
    root = Path(tempfile.mkdtemp(prefix="relais-mailpeer-"))
    root.chmod(0o755)
    peer = MailPeer(root)
    try:
        peer.start()
    except Exception as exc:
        peer.stop()
        shutil.rmtree(root, ignore_errors=True)
        reason = f"e-mail peer (aiosmtpd + dovecot) could not start: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    yield peer
    peer.stop()
    shutil.rmtree(root, ignore_errors=True)
