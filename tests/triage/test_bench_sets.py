"""The labelled stop sets of the triage benchmark stay well-formed: every label is a real
stop name of the STAR feed, ids are unique, and no test message is also a dev message."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from relais.demo.setup import GTFS_DIR

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"


def read(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def stop_names() -> set[str]:
    with open(Path(GTFS_DIR) / "stops.txt", encoding="utf-8-sig", newline="") as f:
        return {r["stop_name"] for r in csv.DictReader(f)}


@pytest.mark.parametrize(
    ("name", "at_least"), [("star_stops.jsonl", 200), ("star_stops_test.jsonl", 200)]
)
def test_stop_sets_are_well_formed(stop_names, name, at_least):
    records = read(name)
    assert len(records) >= at_least
    assert len({r["id"] for r in records}) == len(records)
    assert len({r["text"] for r in records}) == len(records)
    unknown = {s for r in records for s in r["stops"] if s not in stop_names}
    assert not unknown


def test_the_test_set_shares_no_message_with_the_dev_set():
    dev = {r["text"].casefold() for r in read("star_stops.jsonl")}
    assert not [r["id"] for r in read("star_stops_test.jsonl") if r["text"].casefold() in dev]
