"""IMAP IDLE against the real dovecot peer: the watcher wakes on new mail, the command turns
that into the product's poll, and a server without IDLE leaves the work to polling."""

import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest
from django.core.management import call_command

from relais.channels.models import AccountStatus, ChannelAccount
from relais.connectors.email.idle import IdleWatcher, WatchEnd
from relais.connectors.email.management.commands.email_idle import Command, Supervisor
from relais.connectors.email.tests.peer import free_port
from relais.connectors.email.tests.test_email_peer import _send_as_citizen, _settings
from relais.inbox.models import Conversation, Message

FAST = {"tick": 0.1}  # the stop event is seen within 0.1 s


def wait_for(condition, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _addresses() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"idle-{tag}@city.example", f"citizen-{tag}@example.net"


def _unsaved_account(peer, address: str, **overrides) -> ChannelAccount:
    config, credentials = _settings(peer, address, **overrides)
    return ChannelAccount(
        pk=1, kind="email", network="email", handle=address, config=config, credentials=credentials
    )


def _saved_account(personas, peer, address: str, **overrides) -> ChannelAccount:
    config, credentials = _settings(peer, address, **overrides)
    return ChannelAccount.objects.create(
        organization=personas.org,
        kind="email",
        network="email",
        handle=address,
        name=f"Mail {address}",
        config=config,
        credentials=credentials,  # type: ignore[misc]
    )


class Counter:
    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.calls += 1


def _start(watcher: IdleWatcher) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(watcher.run()), daemon=True)
    thread.start()
    return thread, result


def test_watcher_wakes_on_new_mail_renews_idle_and_stops(mail_peer):
    address, citizen = _addresses()
    counter = Counter()
    stop = threading.Event()
    # renew_after 1 s: the DONE / IDLE renewal (25 minutes in production) happens in the test.
    watcher = IdleWatcher(
        _unsaved_account(mail_peer, address), counter, stop, renew_after=1.0, **FAST
    )
    thread, result = _start(watcher)
    try:
        wait_for(watcher.idling.is_set, what="the first IDLE")
        assert counter.calls == 0
        t0 = time.monotonic()
        _send_as_citizen(mail_peer, citizen, address, "Bonjour", "Premier message")
        wait_for(lambda: counter.calls >= 1, timeout=5, what="the EXISTS of the first mail")
        first_latency = time.monotonic() - t0

        # After a renewal (tag R2 or later), new mail still wakes the watcher.
        wait_for(lambda: watcher._tags >= 2 and watcher.idling.is_set(), what="a renewed IDLE")
        before = counter.calls
        _send_as_citizen(mail_peer, citizen, address, "Encore", "Deuxième message")
        wait_for(lambda: counter.calls > before, timeout=5, what="the EXISTS after renewal")
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert result[0].end == WatchEnd.STOPPED
    assert first_latency < 5


def test_watcher_reconnects_when_the_server_drops_it_and_catches_up(mail_peer):
    doveadm = shutil.which("doveadm")
    if doveadm is None:
        pytest.skip("doveadm is not installed")
    address, citizen = _addresses()
    counter = Counter()
    stop = threading.Event()
    watcher = IdleWatcher(_unsaved_account(mail_peer, address), counter, stop, **FAST)
    thread, result = _start(watcher)
    try:
        wait_for(watcher.idling.is_set, what="the first IDLE")
        first_tag = watcher._tags
        # The server ends the session (BYE), as on a restart: reconnect, poll once for what
        # may have arrived meanwhile, and IDLE again.
        subprocess.run(  # noqa: S603 - fixed binary, our own config
            [doveadm, "-c", str(mail_peer.root / "dovecot.conf"), "kick", address],
            check=True,
            capture_output=True,
            timeout=10,
        )
        wait_for(lambda: counter.calls >= 1, what="the catch-up after reconnection")
        wait_for(
            lambda: watcher._tags > first_tag and watcher.idling.is_set(),
            what="IDLE on the new connection",
        )
        before = counter.calls
        _send_as_citizen(mail_peer, citizen, address, "Après", "Après la reconnexion")
        wait_for(lambda: counter.calls > before, timeout=5, what="EXISTS on the new connection")
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert result[0].end == WatchEnd.STOPPED


def test_watcher_retries_an_unreachable_server_until_stopped(mail_peer, caplog):
    address, _ = _addresses()
    stop = threading.Event()
    account = _unsaved_account(mail_peer, address, imap_port=free_port())
    watcher = IdleWatcher(account, Counter(), stop, **FAST)
    with caplog.at_level(logging.INFO, logger="relais.connectors.email.idle"):
        thread, result = _start(watcher)
        wait_for(lambda: "IMAP IDLE interrupted" in caplog.text, what="a logged retry")
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert result[0].end == WatchEnd.STOPPED
    assert "unreachable" in caplog.text


def test_refused_login_ends_the_watcher(mail_peer):
    address, _ = _addresses()
    account = _unsaved_account(mail_peer, address)
    account.credentials = {"imap_password": "not-the-password"}
    result = IdleWatcher(account, Counter(), threading.Event(), **FAST).run()
    assert result.end == WatchEnd.REFUSED
    assert "refused the login" in result.reason


class NoIdleServer:
    """An IMAP server that knows LOGIN, CAPABILITY (without IDLE) and LOGOUT, nothing else."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.commands: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"* OK fake IMAP ready\r\n")
            for raw in lines:
                tag, _, rest = raw.decode().strip().partition(" ")
                command = rest.split(" ")[0].upper()
                self.commands.append(command)
                if command == "CAPABILITY":
                    conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
                    conn.sendall(f"{tag} OK done\r\n".encode())
                elif command == "LOGIN":
                    conn.sendall(f"{tag} OK logged in\r\n".encode())
                elif command == "LOGOUT":
                    conn.sendall(f"* BYE\r\n{tag} OK bye\r\n".encode())
                    return
                else:
                    conn.sendall(f"{tag} BAD not here\r\n".encode())

    def close(self):
        self.sock.close()


def test_server_without_idle_returns_at_once_and_says_why(mail_peer, caplog):
    server = NoIdleServer()
    address, _ = _addresses()
    account = _unsaved_account(mail_peer, address, imap_port=server.port)
    counter = Counter()
    try:
        with caplog.at_level(logging.INFO, logger="relais.connectors.email.idle"):
            t0 = time.monotonic()
            result = IdleWatcher(account, counter, threading.Event(), **FAST).run()
            elapsed = time.monotonic() - t0
    finally:
        server.close()
    assert result.end == WatchEnd.NO_IDLE
    assert "does not announce IDLE" in result.reason
    assert "IMAP4rev1 AUTH=PLAIN" in result.reason
    assert "does not announce IDLE" in caplog.text
    assert elapsed < 2
    assert counter.calls == 0
    assert "SELECT" not in server.commands and "IDLE" not in server.commands


@pytest.mark.django_db(transaction=True)
def test_new_mail_becomes_a_conversation_through_the_poll_task(personas, mail_peer):
    address, citizen = _addresses()
    account = _saved_account(personas, mail_peer, address)
    off = _saved_account(personas, mail_peer, _addresses()[0])
    off.config["idle"] = False
    off.save()
    away = _saved_account(personas, mail_peer, _addresses()[0])
    away.status = AccountStatus.RECONNECT
    away.save()

    supervisor = Supervisor(refresh=60, **FAST)  # on_new_mail: queue the `poll` task
    stop = threading.Event()
    thread = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: account.pk in supervisor.watches, what="the account's watcher")
        watch = supervisor.watches[account.pk]
        wait_for(watch.watcher.idling.is_set, what="IDLE")
        assert set(supervisor.watches) == {account.pk}  # not "idle": false, not to reconnect

        t0 = time.monotonic()
        sent = _send_as_citizen(mail_peer, citizen, address, "Ligne 7", "Le métro est arrêté.")
        # Tasks run inline here (Huey's immediate mode): poll → ingest → pipeline.
        message = wait_for(
            lambda: Message.objects.filter(external_id=sent).first(),
            what="the message stored by the poll",
        )
        latency = time.monotonic() - t0
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    assert not watch.thread.is_alive()
    conversation = Conversation.objects.get(account=account)
    assert message.conversation_id == conversation.pk
    assert message.text == "Le métro est arrêté."
    assert conversation.contact.handle == citizen
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.cursor.endswith(":1")
    assert latency < 5


@pytest.mark.django_db(transaction=True)
def test_command_runs_until_sigterm(personas, mail_peer) -> None:
    address, _ = _addresses()
    account = _saved_account(personas, mail_peer, address)
    command = Command()
    signalled: list[str] = []

    def _then_sigterm():
        try:
            wait_for(
                lambda: (
                    getattr(command, "supervisor", None)
                    and account.pk in command.supervisor.watches
                    and command.supervisor.watches[account.pk].watcher.idling.is_set()
                ),
                what="the command's watcher in IDLE",
            )
            signalled.append("idling")
        finally:
            # Always (the command must not run forever), but only to the command's handler.
            if signal.getsignal(signal.SIGTERM) is not previous:
                os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=_then_sigterm, daemon=True)
    previous = signal.getsignal(signal.SIGTERM)
    helper.start()
    call_command(command, refresh=60)
    helper.join(5)
    assert signalled == ["idling"]
    assert not command.supervisor.watches[account.pk].thread.is_alive()
    assert signal.getsignal(signal.SIGTERM) == previous  # handlers given back
