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


def sample(data: Path) -> list[dict]:
    rows = []
    for f in sorted(glob.glob(str(data / "ratp" / "Ligne*_RATP.csv"))):
        account = os.path.basename(f)[:-4]
        with open(f, newline="") as fh:
            for i, r in enumerate(csv.DictReader(fh)):
                rows.append({"account": account, "row": i, "time": r["time"], "text": r["tweet"]})
    for r in rows:
        r["kind"] = kind(r["text"])
    rng = random.Random(20261123)
    seen: set = set()
    out: list[dict] = []

    def take(pool, n, stratum):
        texts = {o["text"] for o in out}
        pool = [r for r in pool if (r["account"], r["row"]) not in seen and r["text"] not in texts]
        for r in rng.sample(pool, n):
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(HERE.parents[2] / "shared" / "data"))
    args = parser.parse_args()
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
