"""`relais triage [--gtfs PATH] [--org SLUG]`: JSON Lines in ({"text", "lang"?}), one triage
result per line out — the same code as the ingest pipeline."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from relais.accounts.models import Organization
from relais.triage.engine import Triager
from relais.triage.entities import NetworkLexicon
from relais.triage.service import ORG_LANGUAGES


class Command(BaseCommand):
    help = "Triage JSON Lines from standard input: {'text': ..., 'lang'?: ...} per line."

    def add_arguments(self, parser):
        parser.add_argument(
            "action",
            nargs="?",
            choices=["train"],
            help="train: fit the organisation's models on its agents' labels",
        )
        parser.add_argument("--gtfs", help="a GTFS folder for lines and stops")
        parser.add_argument("--org", help="an organisation slug: its network and languages")
        parser.add_argument(
            "--explain", action="store_true", help="include the cue words that decided"
        )

    def handle(self, *args, **options):
        if options["action"] == "train":
            return self._train(options)
        if options["org"]:
            org = Organization.objects.filter(slug=options["org"]).first()
            if org is None:
                raise CommandError(f"No organisation {options['org']!r}.")
            lexicon = NetworkLexicon.for_organization(org.pk)
        elif options["gtfs"]:
            try:
                lexicon = NetworkLexicon.from_gtfs(options["gtfs"])
            except (OSError, KeyError, ValueError) as exc:
                raise CommandError(f"Cannot read the GTFS folder: {exc}") from exc
        else:
            lexicon = NetworkLexicon.empty()
        triager = Triager(lexicon, languages=ORG_LANGUAGES)
        out = sys.stdout
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict) or not isinstance(data.get("text"), str):
                    raise ValueError('expected {"text": "..."}')
            except ValueError as exc:
                out.write(json.dumps({"line": number, "error": str(exc)}) + "\n")
                continue
            result = triager.triage(data["text"], lang=data.get("lang") or None).to_json()
            if not options["explain"]:
                result.pop("cues", None)
            out.write(json.dumps(result, ensure_ascii=False) + "\n")

    def _train(self, options) -> None:
        from relais.triage.learning import FIELDS, train_field
        from relais.triage.service import triager_for

        if not options["org"]:
            raise CommandError("Say which organisation: relais triage train --org SLUG")
        org = Organization.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(f"No organisation {options['org']!r}.")
        rules = Triager(NetworkLexicon.for_organization(org.pk), languages=ORG_LANGUAGES)
        for field in FIELDS:
            self.stdout.write(
                train_field(organization_id=org.pk, field=field, triager=rules).line()
            )
        triager_for(org.pk)  # warm the cache with what was kept
