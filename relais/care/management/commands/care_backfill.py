"""Fill the care analytics' hourly counts for what happened before event counting began."""

from django.core.management.base import BaseCommand, CommandError

from relais.accounts.models import Organization
from relais.care.buckets import buckets_backfill


class Command(BaseCommand):
    help = (
        "Count, once, the conversations of an organisation that predate the care counts "
        "(imported history, or from before the care part was installed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="the organisation's slug")

    def handle(self, *args, **options):
        org = Organization.objects.filter(slug=options["organization"]).first()
        if org is None:
            raise CommandError(f"No organisation {options['organization']!r}.")
        n = buckets_backfill(organization_id=org.pk)
        self.stdout.write(f"{n} conversations counted." if n else "Already filled: nothing to do.")
