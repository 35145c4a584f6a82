"""How ratp_lines.jsonl was drawn and pre-filled; the labels in the file were then read and
corrected by hand (see README.md). Run: .venv/bin/python bench/data/ratp_sample.py [--data DIR]
It prints every sampled tweet whose hand label differs from the regex pre-fill."""

import argparse
import csv
import glob
import json
import os
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Retweets of these accounts are institutional; every other retweeted account is "other".
INST = re.compile(
    r"ratp|gouv|^idfm|prefet|^rer|^T\d|sante_|^ars_|^sup_rech|bnf|queFaireAParis|beauvau|fondation|"
    r"operadeparis|fraternitegen|championsleague",
    re.I,
)
NUM = r"(1[0-4]|[1-9]|3\s?bis|7\s?bis|3b|7b)"
PATTERNS = [
    r"#?lignes?\s*" + NUM + r"\b",
    r"#(?:ratp_?)?l(?:igne)?" + NUM + r"\b",
    r"\b[LM]" + NUM + r"\b",
    r"\b(?:la|le|du|de la)\s+"
    + NUM
    + r"\b(?!\s*(?:h|min|mn|janv|fév|mars|avr|mai|juin|juil|ao|sept|oct|nov|déc|/|:|€|%))",
    r"\bmétro\s+" + NUM + r"\b",
]


def kind(text: str) -> str:
    if text.startswith("RT @"):
        who = re.match(r"RT @(\w+)", text).group(1)
        return "rt_inst" if INST.search(who) else "rt_other"
    return "reply" if text.startswith("@") else "post"


def sample(data: Path, seed: int = 20261123, exclude: list[dict] | None = None) -> list[dict]:
    """The stratified sample; `exclude` (an earlier sample) keeps its tweets and texts out."""
    rows = []
    for f in sorted(glob.glob(str(data / "ratp" / "Ligne*_RATP.csv"))):
        account = os.path.basename(f)[:-4]
        with open(f, newline="") as fh:
            for i, r in enumerate(csv.DictReader(fh)):
                rows.append({"account": account, "row": i, "time": r["time"], "text": r["tweet"]})
    for r in rows:
        r["kind"] = kind(r["text"])
    rng = random.Random(seed)
    seen: set = {(e["account"], e["row"]) for e in exclude or []}
    excluded_texts = {e["text"] for e in exclude or []}
    out: list[dict] = []

    def take(pool, n, stratum):
        texts = {o["text"] for o in out} | excluded_texts
        pool = [r for r in pool if (r["account"], r["row"]) not in seen and r["text"] not in texts]
        for r in rng.sample(pool, min(n, len(pool))):  # the test sample finds some strata used up
            seen.add((r["account"], r["row"]))
            out.append({**r, "stratum": stratum})

    take([r for r in rows if r["kind"] == "post"], 170, "post")
    take([r for r in rows if r["kind"] == "reply"], 90, "reply")
    take([r for r in rows if r["kind"] == "rt_other"], 27, "retweet_other")
    take([r for r in rows if r["kind"] == "rt_inst"], 13, "retweet_ratp")
    take([r for r in rows if re.search(r"bis\b", r["text"], re.I)], 15, "bis")
    numbers = r"\d+\s*(min|minutes|h\d|sortie)|\bsortie\s*n?°?\s*\d"
    take([r for r in rows if re.search(numbers, r["text"], re.I)], 20, "numbers")
    return out


def prefill(text: str) -> list[str]:
    t = re.sub(r"^(RT )?(@\w+\s*:?\s*)+", "", text)
    t = re.sub(r"@\w+", " ", t)
    found = set()
    for p in PATTERNS:
        for m in re.finditer(p, t, re.I):
            x = m.group(1).lower().replace(" ", "")
            found.add({"3b": "3bis", "7b": "7bis"}.get(x, x))
    for m in re.finditer(r"lignes\s+((?:\d+(?:bis)?\s*(?:,|et|/|&)\s*)+\d+(?:bis)?)", t, re.I):
        found.update(re.findall(r"\d+(?:bis)?", m.group(1)))
    return sorted(found, key=lambda x: (int(re.match(r"\d+", x).group()), x))


TEST_SEED = 20261201


def check_test(data: Path) -> None:
    """ratp_lines_test.jsonl: a second sample drawn the same way with another seed, none of
    its tweets (nor texts) in the first; labelled by hand before the recogniser was run."""
    drawn = sample(data, TEST_SEED, exclude=sample(data))
    with open(HERE / "ratp_lines_test.jsonl", encoding="utf-8") as f:
        labelled = {rec["id"]: rec for rec in map(json.loads, f)}
    assert [f"{d['account']}:{d['row']}" for d in drawn] == list(labelled), (
        "test sample differs from the file"
    )
    changed = sum(
        prefill(d["text"]) != labelled[f"{d['account']}:{d['row']}"]["lines"] for d in drawn
    )
    print(
        len(drawn),
        "test tweets, sample and file agree;",
        changed,
        "hand labels differ from the pre-fill",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[2] / "shared" / "data"))
    parser.add_argument(
        "--draw-test", action="store_true", help="(re)write the test file, pre-filled"
    )
    args = parser.parse_args()
    if args.draw_test:
        test = sample(Path(args.data), TEST_SEED, exclude=sample(Path(args.data)))
        with open(HERE / "ratp_lines_test.jsonl", "w", encoding="utf-8") as f:
            for d in test:
                record = {
                    "id": f"{d['account']}:{d['row']}",
                    "account": d["account"],
                    "time": d["time"],
                    "stratum": d["stratum"],
                    "text": d["text"],
                    "lines": prefill(d["text"]),
                }
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        raise SystemExit(0)
    drawn = sample(Path(args.data))
    with open(HERE / "ratp_lines.jsonl", encoding="utf-8") as f:
        labelled = {rec["id"]: rec for rec in map(json.loads, f)}
    assert [f"{d['account']}:{d['row']}" for d in drawn] == list(labelled), (
        "sample differs from the file"
    )
    for d in drawn:
        rec = labelled[f"{d['account']}:{d['row']}"]
        if prefill(d["text"]) != rec["lines"]:
            print(
                rec["id"],
                "pre-fill",
                prefill(d["text"]),
                "hand",
                rec["lines"],
                "|",
                rec["text"][:90],
            )
    print(len(drawn), "tweets, sample and file agree")
    if (HERE / "ratp_lines_test.jsonl").exists():
        check_test(Path(args.data))
