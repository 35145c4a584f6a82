"""`relais gtfs import PATH --org SLUG`: load a GTFS feed (zip or folder) into an organisation."""

from django.core.management.base import BaseCommand, CommandError

from relais.accounts.models import Organization
from relais.transit.gtfs import GtfsError, import_feed


class Command(BaseCommand):
    help = "GTFS feeds: `import PATH --org SLUG` loads routes, stops and translations."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="load a feed (zip or folder)")
        imp.add_argument("path")
        imp.add_argument("--org", required=True, help="organisation slug")

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organisation {options['org']!r}.")
        try:
            result = import_feed(organization=organization, path=options["path"])
        except GtfsError as exc:
            raise CommandError(f"Feed refused: {exc}") from exc
        self.stdout.write(
            f"{organization.slug}: {result.routes} routes, {result.stops} stops, "
            f"{result.translations} translations from {options['path']}"
        )
