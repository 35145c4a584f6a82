"""GTFS import: a zip or a folder into an organisation's routes and stops, all or nothing.

Only what Relais uses is read: routes.txt and stops.txt (required), translations.txt and
feed_info.txt (optional). A broken feed is refused with the file and the line at fault.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from relais.accounts.models import Organization
from relais.transit.models import Feed, Route, Stop

MAX_ROWS = 500_000  # a guard against a wrong file, far above any city's stops


class GtfsError(ValueError):
    def __init__(self, file: str, line: int | None, message: str):
        self.file, self.line = file, line
        where = f"{file}, line {line}" if line else file
        super().__init__(f"{where}: {message}")


@dataclass
class ImportResult:
    feed: Feed
    routes: int
    stops: int
    translations: int


class _Source:
    """Reads the feed's files from a zip (files may sit in one sub-folder) or a folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise GtfsError(str(path), None, "no such file or folder")
        self.zip: zipfile.ZipFile | None = None
        self.names: dict[str, str] = {}
        if self.path.is_dir():
            self.names = {p.name: str(p) for p in self.path.iterdir() if p.is_file()}
        else:
            try:
                self.zip = zipfile.ZipFile(self.path)
            except zipfile.BadZipFile as exc:
                raise GtfsError(
                    self.path.name, None, f"not a zip file nor a folder ({exc})"
                ) from exc
            self.names = {Path(n).name: n for n in self.zip.namelist() if not n.endswith("/")}

    def has(self, name: str) -> bool:
        return name in self.names

    def rows(self, name: str, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
        if self.zip is not None:
            raw = self.zip.read(self.names[name])
        else:
            raw = Path(self.names[name]).read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise GtfsError(name, line, "not UTF-8 text") from exc
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip() for h in (reader.fieldnames or [])]
        if not header:
            raise GtfsError(name, 1, "empty file: a header line is needed")
        reader.fieldnames = header
        missing = [c for c in required if c not in header]
        if missing:
            raise GtfsError(name, 1, f"missing column(s): {', '.join(missing)}")
        for number, row in enumerate(reader, start=2):
            if number > MAX_ROWS:
                raise GtfsError(name, number, f"more than {MAX_ROWS} rows")
            if None in row:
                raise GtfsError(
                    name,
                    number,
                    f"{len(header) + len(row[None])} fields, the header has {len(header)}",
                )
            yield number, {k: (v or "").strip() for k, v in row.items()}


def _float(name: str, line: int, value: str, field: str, low: float, high: float) -> float | None:
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise GtfsError(name, line, f"{field} is not a number: {value!r}") from None
    if not low <= number <= high:
        raise GtfsError(name, line, f"{field} out of range: {value}")
    return number


def _int(name: str, line: int, value: str, field: str, default: int | None = None) -> int | None:
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise GtfsError(name, line, f"{field} is not an integer: {value!r}") from None


def _read_routes(source: _Source) -> list[Route]:
    if not source.has("routes.txt"):
        raise GtfsError("routes.txt", None, "missing from the feed")
    routes, seen = [], set()
    for line, row in source.rows("routes.txt", ("route_id", "route_type")):
        if not row["route_id"]:
            raise GtfsError("routes.txt", line, "route_id is empty")
        if row["route_id"] in seen:
            raise GtfsError("routes.txt", line, f"route_id {row['route_id']!r} appears twice")
        seen.add(row["route_id"])
        if not row.get("route_short_name") and not row.get("route_long_name"):
            raise GtfsError("routes.txt", line, "a route needs route_short_name or route_long_name")
        route_type = _int("routes.txt", line, row["route_type"], "route_type")
        if route_type is None:
            raise GtfsError("routes.txt", line, "route_type is empty")
        routes.append(
            Route(
                gtfs_id=row["route_id"],
                short_name=row.get("route_short_name", "")[:100],
                long_name=row.get("route_long_name", "")[:300],
                description=row.get("route_desc", "")[:300],
                route_type=route_type,
                color=row.get("route_color", "")[:6],
                text_color=row.get("route_text_color", "")[:6],
                sort_order=_int(
                    "routes.txt", line, row.get("route_sort_order", ""), "route_sort_order"
                ),
            )
        )
    if not routes:
        raise GtfsError("routes.txt", None, "no route")
    return routes


def _read_stops(source: _Source) -> list[Stop]:
    if not source.has("stops.txt"):
        raise GtfsError("stops.txt", None, "missing from the feed")
    stops, seen = [], set()
    for line, row in source.rows("stops.txt", ("stop_id",)):
        if not row["stop_id"]:
            raise GtfsError("stops.txt", line, "stop_id is empty")
        if row["stop_id"] in seen:
            raise GtfsError("stops.txt", line, f"stop_id {row['stop_id']!r} appears twice")
        seen.add(row["stop_id"])
        location_type = (
            _int("stops.txt", line, row.get("location_type", ""), "location_type", 0) or 0
        )
        if location_type <= 2 and not row.get("stop_name"):
            raise GtfsError(
                "stops.txt", line, "stop_name is required for stops, stations and entrances"
            )
        stops.append(
            Stop(
                gtfs_id=row["stop_id"],
                code=row.get("stop_code", "")[:100],
                name=row.get("stop_name", "")[:300],
                description=row.get("stop_desc", "")[:300],
                latitude=_float("stops.txt", line, row.get("stop_lat", ""), "stop_lat", -90, 90),
                longitude=_float("stops.txt", line, row.get("stop_lon", ""), "stop_lon", -180, 180),
                location_type=location_type,
                parent_gtfs_id=row.get("parent_station", ""),
            )
        )
    if not stops:
        raise GtfsError("stops.txt", None, "no stop")
    return stops


def _apply_translations(source: _Source, routes: list[Route], stops: list[Stop]) -> int:
    """translations.txt: by record_id, or by field_value (every record with that value)."""
    if not source.has("translations.txt"):
        return 0
    targets: dict[tuple[str, str], tuple[list[Any], str]] = {
        ("routes", "route_long_name"): (routes, "long_name"),
        ("routes", "route_short_name"): (routes, "short_name"),
        ("stops", "stop_name"): (stops, "name"),
    }
    by_id: dict[str, dict[str, Any]] = {
        "routes": {r.gtfs_id: r for r in routes},
        "stops": {s.gtfs_id: s for s in stops},
    }
    count = 0
    for line, row in source.rows(
        "translations.txt", ("table_name", "field_name", "language", "translation")
    ):
        key = (row["table_name"], row["field_name"])
        if key not in targets:
            continue
        if not row["language"]:
            raise GtfsError("translations.txt", line, "language is empty")
        records, attribute = targets[key]
        if row.get("record_id"):
            record = by_id[row["table_name"]].get(row["record_id"])
            matched = [record] if record is not None else []
        elif row.get("field_value"):
            matched = [r for r in records if getattr(r, attribute) == row["field_value"]]
        else:
            raise GtfsError("translations.txt", line, "record_id or field_value is needed")
        for record in matched:
            record.translations = {
                **record.translations,
                f"{attribute}:{row['language']}": row["translation"],
            }
            count += 1
    return count


def import_feed(*, organization: Organization, path: str | Path) -> ImportResult:
    """Read and check everything first; then replace the organisation's network at once."""
    source = _Source(path)
    routes = _read_routes(source)
    stops = _read_stops(source)
    translations = _apply_translations(source, routes, stops)
    publisher = version = ""
    if source.has("feed_info.txt"):
        for _line, row in source.rows("feed_info.txt", ()):
            publisher, version = row.get("feed_publisher_name", ""), row.get("feed_version", "")
            break
    with transaction.atomic():
        feed = Feed.objects.create(
            organization=organization,
            source=str(path)[:500],
            publisher=publisher[:200],
            version=version[:100],
            routes=len(routes),
            stops=len(stops),
        )
        # Replace by GTFS id: what other parts point at by id keeps its id when it still exists.
        Route.objects.filter(organization=organization).exclude(
            gtfs_id__in=[r.gtfs_id for r in routes]
        ).delete()
        Stop.objects.filter(organization=organization).exclude(
            gtfs_id__in=[s.gtfs_id for s in stops]
        ).delete()
        for route in routes:
            route.organization = organization
        for stop in stops:
            stop.organization = organization
        Route.objects.bulk_create(
            routes,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["organization", "gtfs_id"],
            update_fields=[
                "short_name",
                "long_name",
                "description",
                "route_type",
                "color",
                "text_color",
                "sort_order",
                "translations",
            ],
        )
        Stop.objects.bulk_create(
            stops,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["organization", "gtfs_id"],
            update_fields=[
                "code",
                "name",
                "description",
                "latitude",
                "longitude",
                "location_type",
                "parent_gtfs_id",
                "translations",
            ],
        )
    return ImportResult(feed=feed, routes=len(routes), stops=len(stops), translations=translations)
