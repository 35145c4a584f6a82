"""`relais replay FILE --speed X --org SLUG`: play a scenario file into an organisation."""

from django.core.management.base import BaseCommand, CommandError

from relais.accounts.models import Organization
from relais.connectors.replay.connector import ScenarioError, load_scenario
from relais.connectors.replay.player import play


class Command(BaseCommand):
    help = (
        "Play a scenario (JSON Lines) into an organisation's accounts, in real or accelerated time."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--speed", type=float, default=1.0, help="60 = an hour a minute; 0 = all at once"
        )
        parser.add_argument("--org", default="", help="organisation slug (default: the only one)")
        parser.add_argument("--limit", type=int, default=None)

    def handle(self, *args, **options):
        if options["speed"] < 0:
            raise CommandError("--speed must be 0 or more.")
        if options["org"]:
            org = Organization.objects.filter(slug=options["org"]).first()
            if org is None:
                raise CommandError(f"No organisation {options['org']!r}.")
        else:
            orgs = list(Organization.objects.all()[:2])
            if len(orgs) != 1:
                raise CommandError("Say which organisation with --org SLUG.")
            org = orgs[0]
        try:
            scenario = load_scenario(options["file"])
        except (OSError, ScenarioError) as exc:
            raise CommandError(f"Cannot read the scenario: {exc}") from exc
        self.stdout.write(
            f"Playing {len(scenario.lines)} messages into {org.slug} at x{options['speed']:g} "
            f"({scenario.duration / max(options['speed'], 1e-9) / 60:.1f} min)"
        )
        result = play(scenario, organization=org, speed=options["speed"], limit=options["limit"])
        self.stdout.write(f"Played {result.played}, skipped {result.skipped}.")
