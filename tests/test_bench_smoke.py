"""The benchmarks still run against the current models: each one, at a toy size, on SQLite.

A benchmark that bulk-loads rows breaks silently when a model gains a NOT NULL column; this
catches it in `make test`, not on the day someone measures. Figures are not checked here.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SMALL = {
    "sla.py": ["--db", "sqlite", "--conversations", "300", "--breaches", "10", "--passes", "2"],
    "inbox.py": ["--db", "sqlite", "--conversations", "300", "--messages", "2000", "--runs", "2"],
}


@pytest.mark.parametrize("script", sorted(SMALL))
def test_benchmark_runs_at_a_toy_size(script, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["RELAIS_VAR_DIR"] = str(tmp_path)
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / script),
            *SMALL[script],
            "--json",
            str(tmp_path / "out.json"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "out.json").stat().st_size > 0
