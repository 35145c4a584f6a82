"""The neutrality report: how often each person of a configurable list (elected officials)
is mentioned in the organisation's publications, per month. A public service stays
politically neutral; this shows whether one official is put forward more than others."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models.functions import Coalesce

from relais.accounts.models import Membership, audit
from relais.publishing.models import NeutralityPerson, Publication, PublicationState

# Publications that went out (or are going out): what the public saw.
COUNTED_STATES = (
    PublicationState.PUBLISHING,
    PublicationState.PUBLISHED,
    PublicationState.PARTIAL,
)


def fold(text: str) -> str:
    """Lower case without accents: "Hélène" and "helene" are the same name."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def person_pattern(person: NeutralityPerson) -> re.Pattern[str]:
    """Whole words only: "Marc Petit" is not found inside "Marc Petitjean"; a handle
    "@mpetit" matches with or without its @."""
    names = {person.name, *[str(a) for a in person.aliases or []]}
    parts = []
    for name in sorted({fold(n).strip() for n in names if n and n.strip()}, key=len, reverse=True):
        bare = name.lstrip("@")
        if len(bare) < 2:
            continue
        words = r"[\s\-]+".join(re.escape(w) for w in re.split(r"[\s\-]+", bare))
        parts.append(words)
    if not parts:
        return re.compile(r"(?!x)x")
    return re.compile(r"(?<![\w@])@?(?:" + "|".join(parts) + r")(?![\w])")


@dataclass
class Report:
    months: list[str]  # "2026-11", oldest first
    rows: list[tuple[NeutralityPerson, list[int], int]]  # person, count a month, total
    publications: int  # publications counted over the period


def month_key(value: datetime, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m")


def neutrality_report(*, organization_id: int, months: list[str], zone: str) -> Report:
    """Counts, for each person, the publications that mention them (a publication naming
    someone twice counts once), by month of publication in the organisation's zone."""
    people = list(NeutralityPerson.objects.filter(organization_id=organization_id).order_by("name"))
    patterns = [(p, person_pattern(p)) for p in people]
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    wanted = set(months)
    total = 0
    publications = (
        Publication.objects.filter(organization_id=organization_id, state__in=COUNTED_STATES)
        .annotate(at=Coalesce("completed_at", "requested_at", "scheduled_at", "created_at"))
        .values_list("text", "at")
    )
    for text, at in publications.iterator(chunk_size=2000):
        month = month_key(at, zone)
        if month not in wanted:
            continue
        total += 1
        folded = fold(text)
        for person, pattern in patterns:
            if pattern.search(folded):
                counts[person.pk][month] += 1
    rows = []
    for person in people:
        per_month = [counts[person.pk].get(m, 0) for m in months]
        rows.append((person, per_month, sum(per_month)))
    return Report(months=months, rows=rows, publications=total)


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["person", "title", *report.months, "total"])
    for person, per_month, total in report.rows:
        # A name starting with = + - @ would be a formula in a spreadsheet.
        name = person.name if person.name[:1] not in "=+-@" else "'" + person.name
        title = person.title if person.title[:1] not in "=+-@" else "'" + person.title
        writer.writerow([name, title, *per_month, total])
    return out.getvalue()


def parse_aliases(raw: str) -> list[str]:
    return [a.strip() for a in re.split(r"[,\n;]", raw or "") if a.strip()][:20]


def person_add(
    *,
    membership: Membership,
    name: str,
    title: str = "",
    aliases: list[str] = (),  # type: ignore[assignment]
) -> NeutralityPerson:
    name = (name or "").strip()[:200]
    if not name:
        raise ValueError("name")
    with transaction.atomic():
        person, _created = NeutralityPerson.objects.update_or_create(
            organization_id=membership.organization_id,
            name=name,
            defaults={"title": (title or "").strip()[:200], "aliases": list(aliases)},
        )
        audit(
            organization_id=membership.organization_id,
            actor_id=membership.user_id,
            action="neutrality.person_saved",
            obj=person,
        )
    return person


def person_remove(*, membership: Membership, person: NeutralityPerson) -> None:
    with transaction.atomic():
        audit(
            organization_id=membership.organization_id,
            actor_id=membership.user_id,
            action="neutrality.person_removed",
            obj=person,
            text=person.name,
        )
        person.delete()
