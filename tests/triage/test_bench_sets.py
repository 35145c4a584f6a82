"""The labelled sets of the triage benchmark stay well-formed: every label is a real stop
name of the STAR feed or a Paris metro line, ids are unique, and no test message is also a
dev message."""

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


@pytest.mark.parametrize(
    ("name", "at_least"), [("ratp_lines.jsonl", 300), ("ratp_lines_test.jsonl", 300)]
)
def test_line_sets_are_well_formed(name, at_least):
    with open(DATA / "paris_metro" / "routes.txt", encoding="utf-8-sig", newline="") as f:
        metro = {r["route_short_name"] for r in csv.DictReader(f)}
    records = read(name)
    assert len(records) >= at_least
    assert len({r["id"] for r in records}) == len(records)
    assert not {line for r in records for line in r["lines"] if line not in metro}


def test_the_line_test_set_shares_no_tweet_with_the_dev_set():
    dev = read("ratp_lines.jsonl")
    ids, texts = {r["id"] for r in dev}, {r["text"] for r in dev}
    assert not [
        r["id"] for r in read("ratp_lines_test.jsonl") if r["id"] in ids or r["text"] in texts
    ]
