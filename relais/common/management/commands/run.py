"""`relais run`: the web server and the task workers as one process group.

Embedded mode (no REDIS_URL): one process; the Huey consumer runs as threads beside the
ASGI server, so live events travel in memory. Redis mode: N web processes and M worker
processes, started and stopped together.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any, cast

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import autodiscover_modules


class Command(BaseCommand):
    help = "Run the web server and the workers (embedded: one process; with REDIS_URL: several)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("RELAIS_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("RELAIS_PORT", "8000")))
        parser.add_argument(
            "--web-processes",
            type=int,
            default=int(os.environ.get("RELAIS_WEB_PROCESSES", "2")),
            help="with REDIS_URL only",
        )
        parser.add_argument(
            "--worker-processes",
            type=int,
            default=int(os.environ.get("RELAIS_WORKER_PROCESSES", "2")),
            help="with REDIS_URL only",
        )
        parser.add_argument("--log-level", default="warning")

    def handle(self, *args, **options):
        if settings.REDIS_URL:
            return self._run_group(options)
        return self._run_embedded(options)

    def _run_embedded(self, options) -> None:
        import uvicorn
        from huey.contrib.djhuey import HUEY

        autodiscover_modules("tasks")
        consumer_options = cast(dict[str, Any], settings.HUEY.get("consumer", {}))
        consumer = HUEY.create_consumer(**consumer_options, periodic=True)
        consumer.start()
        self.stdout.write(
            f"Relais (embedded) on http://{options['host']}:{options['port']}/ "
            f"with {consumer.workers} worker threads"
        )
        try:
            uvicorn.run(
                "config.asgi:application",
                host=options["host"],
                port=options["port"],
                log_level=options["log_level"],
                lifespan="off",
                timeout_graceful_shutdown=2,
            )
        finally:
            consumer.stop(graceful=True)

    def _run_group(self, options) -> None:
        python = sys.executable
        web = [
            python,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            options["host"],
            "--port",
            str(options["port"]),
            "--workers",
            str(options["web_processes"]),
            "--lifespan",
            "off",
            "--log-level",
            options["log_level"],
        ]
        worker = [python, "-m", "relais.cli", "worker"]
        processes = [subprocess.Popen(web)]  # noqa: S603 - our own interpreter and arguments
        processes += [subprocess.Popen(worker) for _ in range(options["worker_processes"])]  # noqa: S603
        self.stdout.write(
            f"Relais on http://{options['host']}:{options['port']}/: "
            f"{options['web_processes']} web and {options['worker_processes']} worker processes"
        )

        def stop(signum, frame):
            for p in processes:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            # One process dying takes the group down: a supervisor restarts the whole.
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
        finally:
            stop(None, None)
            for p in processes:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
