"""IMAP IDLE (RFC 2177) for one e-mail account: wakes a callback when mail arrives, so that a
poll runs at once instead of at the next minute.

imaplib has no IDLE before Python 3.14, so the command is spoken by hand on the socket that
the connector's own login opened. The watcher only says "something arrived": fetching,
storing and the cursor stay with the ordinary poll path.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from relais.channels.contract import ConnectorError
from relais.connectors.email.connector import EmailConnector

logger = logging.getLogger(__name__)

# RFC 2177: servers may drop a client idle for 30 minutes; re-issue IDLE before that.
RENEW_AFTER = 25 * 60.0
# How often a blocked read wakes up to look at the stop event.
TICK = 1.0
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0
STABLE_AFTER = 60.0  # a session that lasted this long resets the backoff


class WatchEnd(StrEnum):
    STOPPED = "stopped"  # the stop event was set
    NO_IDLE = "no-idle"  # the server does not announce IDLE: polling alone
    REFUSED = "refused"  # a permanent error (login refused, mailbox missing)


@dataclass
class WatchResult:
    end: WatchEnd
    reason: str


class _Dropped(Exception):
    """The server ended the IDLE or the connection: reconnect."""


def idle_wanted(account: Any) -> bool:
    """config "idle": false turns IDLE off; absent or true means "where the server has it"."""
    return bool((account.config or {}).get("idle", True))


def capabilities(conn: imaplib.IMAP4) -> list[str]:
    """Asked again after login: RFC 3501 lets a server announce more once authenticated,
    and imaplib keeps only the list from before."""
    typ, data = conn.capability()
    if typ != "OK" or not data or not data[0]:
        return list(conn.capabilities)
    raw = data[0].decode("ascii", "replace") if isinstance(data[0], bytes) else str(data[0])
    return raw.split()


class _Lines:
    """CRLF lines read from the raw socket with a short timeout, so that the stop event is
    seen within TICK. (imaplib's buffered file cannot be read with a timeout: after one the
    file refuses every further read.)"""

    def __init__(self, sock: socket.socket, leftover: bytes = b""):
        self.sock = sock
        self.buffer = leftover

    def next_line(self) -> bytes | None:
        """One line, or None if nothing arrived within TICK."""
        while b"\r\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                return None
            if not chunk:
                raise _Dropped("the server closed the connection")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line


def _leftover(conn: imaplib.IMAP4) -> bytes:
    """Bytes that imaplib's buffered reader already took from the socket after SELECT (an
    EXISTS sent in between): they belong to our reader now."""
    reader: Any = conn.file  # a BufferedReader over the socket (typed as a plain IO)
    conn.sock.setblocking(False)
    try:
        return reader.read1(65536) or b""
    except (BlockingIOError, ssl.SSLWantReadError):
        return b""
    finally:
        conn.sock.setblocking(True)


class IdleWatcher:
    """Watches one account's mailbox; `run()` blocks until `stop` is set (or IDLE is not
    available, or the account's settings are refused) and returns why it ended."""

    def __init__(
        self,
        account: Any,
        on_new_mail: Callable[[], None],
        stop: threading.Event,
        *,
        renew_after: float = RENEW_AFTER,
        tick: float = TICK,
        backoff_max: float = BACKOFF_MAX,
    ):
        self.account = account
        self.on_new_mail = on_new_mail
        self.stop = stop
        self.renew_after = renew_after
        self.tick = tick
        self.backoff_max = backoff_max
        self.idling = threading.Event()  # set while an IDLE is in progress (tests wait on it)
        self._tags = 0

    @property
    def name(self) -> str:
        return f"email account {getattr(self.account, 'pk', None)}"

    def run(self) -> WatchResult:
        delay = BACKOFF_FIRST
        connected_before = False
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                result = self._session(catch_up=connected_before)
            except ConnectorError as exc:
                if exc.permanent:
                    logger.warning("%s: IMAP IDLE stops: %s", self.name, exc)
                    return WatchResult(WatchEnd.REFUSED, str(exc))
                error = str(exc)
            except (OSError, imaplib.IMAP4.error, _Dropped) as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if result is not None:
                    return result
                error = "the server ended the session"
            finally:
                self.idling.clear()
            connected_before = True
            if time.monotonic() - began > STABLE_AFTER:
                delay = BACKOFF_FIRST  # it worked for a while: a new incident, not the same one
            logger.info("%s: IMAP IDLE interrupted (%s), again in %.0f s", self.name, error, delay)
            if self.stop.wait(delay):
                break
            delay = min(delay * 2, self.backoff_max)
        return WatchResult(WatchEnd.STOPPED, "stopped")

    def _tag(self) -> bytes:
        self._tags += 1
        return f"R{self._tags}".encode()

    def _session(self, *, catch_up: bool) -> WatchResult | None:
        """One connection: log in, SELECT, IDLE until stopped; None means "reconnect"."""
        connector = EmailConnector(self.account)
        conn = connector._imap()
        try:
            announced = capabilities(conn)
            if "IDLE" not in (c.upper() for c in announced):
                reason = (
                    f"IMAP {connector.settings.imap_host} does not announce IDLE "
                    f"(CAPABILITY: {' '.join(announced)}); polling every "
                    f"{getattr(self.account, 'poll_interval', 60)} s does the work"
                )
                logger.info("%s: %s", self.name, reason)
                return WatchResult(WatchEnd.NO_IDLE, reason)
            connector._select(conn)
            if catch_up:
                # Mail may have arrived while we were disconnected.
                self._notify()
            lines = _Lines(conn.sock, _leftover(conn))
            conn.sock.settimeout(self.tick)
            while not self.stop.is_set():
                if not self._idle_once(conn, lines):
                    return None
            return WatchResult(WatchEnd.STOPPED, "stopped")
        finally:
            self.idling.clear()
            with contextlib.suppress(OSError):
                conn.sock.settimeout(connector.settings.timeout)
            _logout(conn)

    def _idle_once(self, conn: imaplib.IMAP4, lines: _Lines) -> bool:
        """One IDLE command, ended by DONE after renew_after or on stop. False: the server
        ended it (BYE, or a tagged reply we did not ask for): reconnect."""
        tag = self._tag()
        conn.send(tag + b" IDLE\r\n")
        started = time.monotonic()
        while True:  # the continuation; untagged lines may come before it
            line = self._line(lines, started + max(self.tick * 10, 30.0))
            if line.startswith(b"+"):
                break
            if line.startswith(tag + b" "):
                raise ConnectorError(f"the server refused IDLE: {line.decode(errors='replace')}")
            self._untagged(line)
        self.idling.set()
        while not self.stop.is_set() and time.monotonic() - started < self.renew_after:
            got = lines.next_line()
            if got is None:
                continue
            if got.startswith(tag + b" "):
                logger.info(
                    "%s: the server ended IDLE: %s", self.name, got.decode(errors="replace")
                )
                return False
            if not self._untagged(got):
                return False
        self.idling.clear()
        conn.send(b"DONE\r\n")
        deadline = time.monotonic() + max(self.tick * 10, 30.0)
        while True:
            line = self._line(lines, deadline)
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise _Dropped(f"IDLE ended with {line.decode(errors='replace')}")
                return True
            self._untagged(line)

    def _line(self, lines: _Lines, deadline: float) -> bytes:
        while True:
            line = lines.next_line()
            if line is not None:
                return line
            if time.monotonic() > deadline:
                raise _Dropped("the server did not answer")

    def _notify(self) -> None:
        try:
            self.on_new_mail()
        except Exception:  # a failing callback must not end the watch; the poll will come
            logger.exception("%s: the new-mail callback failed", self.name)

    def _untagged(self, line: bytes) -> bool:
        """Acts on one untagged response; False when the server says BYE."""
        words = line.split()
        if len(words) >= 3 and words[0] == b"*" and words[2].upper() == b"EXISTS":
            logger.debug("%s: %s", self.name, line.decode(errors="replace"))
            self._notify()
        elif len(words) >= 2 and words[0] == b"*" and words[1].upper() == b"BYE":
            logger.info("%s: %s", self.name, line.decode(errors="replace"))
            return False
        return True


def _logout(conn: imaplib.IMAP4) -> None:
    """LOGOUT by hand (imaplib's reader may be behind ours), then close the socket."""
    with contextlib.suppress(OSError):
        conn.sock.settimeout(2.0)
        conn.send(b"R0 LOGOUT\r\n")
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        conn.shutdown()


def watch(
    account: Any, on_new_mail: Callable[[], None], stop: threading.Event, **options: Any
) -> WatchResult:
    """Blocks until `stop` is set; see IdleWatcher."""
    return IdleWatcher(account, on_new_mail, stop, **options).run()
