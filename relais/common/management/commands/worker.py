"""`relais worker`: one task-queue consumer process (Huey), periodic jobs included."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run one background worker process (several may run, on several machines)."

    def add_arguments(self, parser):
        parser.add_argument("--threads", type=int, default=None)

    def handle(self, *args, **options):
        extra = {"workers": options["threads"]} if options["threads"] else {}
        call_command("run_huey", **extra)
