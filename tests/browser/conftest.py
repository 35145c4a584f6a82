"""Browser tests: the real product, started as a user would, driven by Debian's Chromium.

One `relais run` (embedded: web and worker threads in one process) serves the whole
session from a temporary var directory and SQLite file; Playwright drives the system's
/usr/bin/chromium and never downloads a browser of its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relais.common.testing import free_port

CHROMIUM = Path(os.environ.get("RELAIS_TEST_CHROMIUM", "/usr/bin/chromium"))
# Without the networking flags Chromium keeps calling home, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"


def _relais_command() -> str:
    # The console script beside the interpreter running the tests: .venv/bin/relais.
    return str(Path(sys.executable).with_name("relais"))


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"relais run exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(
        f"relais run did not listen on {port} within {timeout:.0f}s:\n{log.read_text()[-4000:]}"
    )


@pytest.fixture(scope="session")
def relais_server(tmp_path_factory) -> Iterator[str]:
    """Base URL of a running Relais with the demo organisation loaded (no scenario)."""
    var = tmp_path_factory.mktemp("relais-var")
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(
        RELAIS_VAR_DIR=str(var),
        DATABASE_URL=f"sqlite:///{var}/relais.sqlite3",
        PYTHONUNBUFFERED="1",
    )
    relais = _relais_command()
    setup = subprocess.run(
        [relais, "demo", "--setup-only"],
        env=env,
        cwd=var,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if setup.returncode:
        pytest.fail(f"relais demo --setup-only failed:\n{setup.stdout}\n{setup.stderr}")
    port = free_port()
    log = var / "relais-run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [relais, "run", "--port", str(port), "--log-level", "info"],
            env=env,
            cwd=var,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # The server's log helps a failure; keep it with the test output.
        sys.stderr.write(f"\n[relais run log: {log}]\n")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_context(browser, relais_server):
    """new_context(**options) -> a fresh browser context (its own cookies) on the server."""
    contexts = []

    def _new(**options):
        options.setdefault("locale", "fr-FR")
        options.setdefault("timezone_id", "Europe/Paris")
        context = browser.new_context(base_url=relais_server, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dirs(tmp_path_factory) -> list[Path]:
    dirs = [tmp_path_factory.mktemp("screenshots")]
    if not IN_CI:
        # Where a developer (or the lead) looks at what the tests saw.
        dirs.append(REPO / "var" / "screenshots")
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.png"):  # a stale picture from an earlier run would mislead
            old.unlink()
    return dirs


@pytest.fixture
def screenshot(screenshot_dirs) -> Callable:
    """screenshot(page, "name") -> path: a full-page PNG in every screenshot folder."""

    def _take(page, name: str, full_page: bool = True) -> Path:
        first = screenshot_dirs[0] / f"{name}.png"
        page.screenshot(path=str(first), full_page=full_page)
        for d in screenshot_dirs[1:]:
            shutil.copy(first, d / first.name)
        return first

    return _take
