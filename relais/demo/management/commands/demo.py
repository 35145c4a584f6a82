"""`relais demo`: migrate, load the demo organisation, start Relais and play scenario S1 live."""

from __future__ import annotations

import os
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from relais.connectors.replay.connector import load_scenario
from relais.connectors.replay.player import play
from relais.demo.setup import DEMO_PASSWORD, SCENARIO_S1, SCENARIO_S3, load_demo
from relais.listening.demo import learn_history

DEMO_HOOKS = {
    "RELAIS_OPERATOR_REPORTS": "relais.care.demo_routing.fake_operator_reports",
    "RELAIS_CUSTOMER_LOOKUP": "relais.care.demo_routing.fake_customer_lookup",
}


class Command(BaseCommand):
    help = "Start Relais with the demo organisation and play the strike-morning scenario into it."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--speed",
            type=float,
            default=None,
            help="scenario speed (s1: 30, the 5-hour morning in about 11 minutes; s3: 10, "
            "the rumour in about 3 minutes after its afternoon played as history)",
        )
        parser.add_argument("--no-replay", action="store_true")
        parser.add_argument(
            "--scenario",
            choices=["s1", "s3"],
            default="s1",
            help="s1: strike morning; s3: a bomb-alert rumour at the airport (listening)",
        )
        parser.add_argument(
            "--reset", action="store_true", help="delete the demo organisation first"
        )
        parser.add_argument("--setup-only", action="store_true", help="load the demo data and exit")

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        info = load_demo(reset=options["reset"])
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"\nRelais demo: {url}"))
        self.stdout.write(f"Organisation: {info.organization.name}")
        self.stdout.write(f"Sign in as any of these, password '{DEMO_PASSWORD}':")
        for username, role in info.logins:
            self.stdout.write(f"  {username:<12} {role}")
        self.stdout.write(f"Citizen side (post as anyone): {url}sandbox/\n")
        if options["setup_only"]:
            return
        # Serving from here on: the demo's fake operator and ticketing systems (S7, S9),
        # unless real ones are set; in the environment too, for worker processes.
        for name, fake in DEMO_HOOKS.items():
            if not getattr(settings, name, ""):
                setattr(settings, name, fake)
                os.environ[name] = fake
        if not options["no_replay"]:
            s3 = options["scenario"] == "s3"
            scenario = load_scenario(SCENARIO_S3 if s3 else SCENARIO_S1)
            speed = options["speed"] if options["speed"] is not None else (10.0 if s3 else 30.0)
            # S3 is about listening: a burst is judged against the monitor's own past, so
            # the quiet afternoon up to the cordon is played first as history, in scenario
            # time, and the rumour live.
            history_until = float(scenario.meta.get("cordon_at", 0)) if s3 else None
            self.stdout.write(
                f"Playing scenario {scenario.meta.get('scenario', 'S1')} "
                f"({len(scenario.lines)} messages) at x{speed:g}"
                + (", the afternoon before the cordon as history." if history_until else ".")
            )

            def _play() -> None:
                from django.db import connection

                try:
                    play(
                        scenario,
                        organization=info.organization,
                        speed=speed,
                        history_until=history_until,
                        on_history_done=lambda since: learn_history(
                            organization_id=info.organization.pk, since=since
                        ),
                    )
                finally:
                    connection.close()

            threading.Thread(target=_play, name="demo-replay", daemon=True).start()
        call_command("run", host=options["host"], port=options["port"])
