"""`relais email_idle`: one IMAP IDLE watcher thread per e-mail account; new mail queues the
ordinary `poll` task at once, so it is fetched by a worker within seconds, not minutes."""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import threading
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connections

from relais.channels.models import AccountStatus, ChannelAccount
from relais.channels.tasks import poll
from relais.common.tasks import json_roundtrip
from relais.connectors.email.idle import IdleWatcher, WatchResult, idle_wanted

logger = logging.getLogger(__name__)


def queue_poll(account_id: int) -> None:
    """The product's poll path, in a worker: claims, cursor, ingest and errors as usual.
    Queued at once, not on commit: the watcher thread has no transaction, and asking for one
    would hold a database connection per watched account."""
    poll(*json_roundtrip([account_id]))


def _settings_key(account: ChannelAccount) -> str:
    """Changes when the account's settings do: a watcher stopped by a refused login or a
    server without IDLE is tried again only then."""
    data = json.dumps([account.config, account.credentials], sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


@dataclass
class Watch:
    key: str
    watcher: IdleWatcher
    stop: threading.Event
    thread: threading.Thread
    result: WatchResult | None = None  # why it ended; None while running or if it crashed


class Supervisor:
    """Keeps one watcher per e-mail account that wants IDLE, re-reading the accounts every
    `refresh` seconds (new accounts, changed settings, accounts disabled or to reconnect)."""

    def __init__(self, *, refresh: float = 60.0, on_new_mail=queue_poll, **watcher_options: Any):
        self.refresh = refresh
        self.on_new_mail = on_new_mail
        self.watcher_options = watcher_options
        self.watches: dict[int, Watch] = {}

    def accounts(self) -> list[ChannelAccount]:
        return [
            a
            for a in ChannelAccount.objects.filter(
                kind="email", status__in=[AccountStatus.ACTIVE, AccountStatus.ERROR]
            ).order_by("pk")
            if idle_wanted(a)
        ]

    def reconcile(self) -> None:
        wanted = {a.pk: a for a in self.accounts()}
        for pk in [pk for pk in self.watches if pk not in wanted]:
            logger.info("email account %s: no longer watched", pk)
            self._end(self.watches.pop(pk))
        for pk, account in wanted.items():
            key = _settings_key(account)
            current = self.watches.get(pk)
            if current is not None:
                crashed = not current.thread.is_alive() and current.result is None
                if current.key == key and not crashed:
                    continue  # running, or ended for a reason that only new settings change
                self._end(current)
            self.watches[pk] = self._start(account, key)

    def _start(self, account: ChannelAccount, key: str) -> Watch:
        stop = threading.Event()
        pk = account.pk
        watcher = IdleWatcher(account, lambda: self.on_new_mail(pk), stop, **self.watcher_options)
        watch = Watch(key=key, watcher=watcher, stop=stop, thread=threading.Thread())
        watch.thread = threading.Thread(
            target=self._run, args=(watch,), name=f"email-idle-{pk}", daemon=True
        )
        watch.thread.start()
        return watch

    @staticmethod
    def _run(watch: Watch) -> None:
        try:
            watch.result = watch.watcher.run()
        except Exception:
            logger.exception("%s: the IDLE watcher crashed", watch.watcher.name)
        finally:
            connections.close_all()  # this thread's connections, if a callback opened one

    @staticmethod
    def _end(watch: Watch, timeout: float = 10.0) -> None:
        watch.stop.set()
        watch.thread.join(timeout)

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                # A long-lived process: drop a connection that broke or aged meanwhile.
                close_old_connections()
                try:
                    self.reconcile()
                except Exception:  # the database away for a moment: the watchers go on
                    logger.exception("email_idle: reading the accounts failed")
                stop.wait(self.refresh)
        finally:
            for watch in self.watches.values():
                watch.stop.set()
            for watch in self.watches.values():
                watch.thread.join(10.0)
            connections.close_all()  # this thread's own, e.g. when run in a thread


class Command(BaseCommand):
    help = (
        "Watch every e-mail account with IMAP IDLE and queue a poll as soon as mail arrives "
        "(run one, beside the workers)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--refresh",
            type=float,
            default=60.0,
            help="seconds between two readings of the account list (default 60)",
        )

    def handle(self, *args, **options):
        if options["refresh"] <= 0:
            raise CommandError("--refresh must be more than 0.")
        stop = threading.Event()
        self.supervisor = Supervisor(refresh=options["refresh"])

        def _stop(signum, frame):
            logger.info("email_idle: %s, stopping", signal.Signals(signum).name)
            stop.set()

        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write("Watching e-mail accounts with IMAP IDLE (Ctrl-C to stop).")
        try:
            self.supervisor.run(stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(f"Stopped ({len(self.supervisor.watches)} accounts were watched).")
