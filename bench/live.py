"""Live latency against the real product: `relais run` as a subprocess, a browser-like SSE
client signed in through /login/, and citizens' messages ingested by another process."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import environment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    at: float  # wall clock when the data line arrived
    published_at: float  # the event's sent_at: wall clock in the publishing process
    message_ids: list[int]


@dataclass
class SSEClient:
    """Signs in like a browser, then reads /events/ in a thread and timestamps each event."""

    base: str
    username: str
    password: str
    received: list[Received] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    error: str = ""

    def login(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base, timeout=httpx.Timeout(10.0, read=None))
        page = client.get("/login/")
        page.raise_for_status()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the login page"
        answer = client.post(
            "/login/",
            data={
                "username": self.username,
                "password": self.password,
                "csrfmiddlewaretoken": token.group(1),
                "next": "",
            },
        )
        assert answer.status_code == 302, f"sign-in failed: {answer.status_code}"
        return client

    def run(self) -> None:
        try:
            client = self.login()
            with contextlib.closing(client), client.stream("GET", "/events/") as response:
                assert response.status_code == 200, f"/events/ answered {response.status_code}"
                event = ""
                for line in response.iter_lines():
                    now = time.time()
                    if line.startswith(": connected"):
                        self.connected.set()
                    elif line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "inbox":
                        import json

                        data = json.loads(line[6:])
                        self.received.append(
                            Received(now, data.get("sent_at", 0.0), data["message_ids"])
                        )
                    if self.stop.is_set():
                        break
        except Exception as exc:  # reported with the figures, never swallowed
            if not self.stop.is_set():
                self.error = f"{type(exc).__name__}: {exc}"
            self.connected.set()


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    values = sorted(values)

    def pick(q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    return {
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": values[-1],
        "mean": sum(values) / len(values),
    }


class Server:
    """`relais run --port P` in a session of its own, so that stopping it stops its children."""

    def __init__(self, env: dict[str, str], port: int, log: Path):
        relais = Path(environment.PYTHON).parent / "relais"
        command = [str(relais)] if relais.exists() else [environment.PYTHON, "-m", "relais.cli"]
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [*command, "run", "--port", str(port)],
            env=env,
            cwd=environment.ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"relais run exited with {self.process.returncode}; see {self.log.name}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/login/", timeout=1).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"relais run did not answer within {timeout} s; see {self.log.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # The group is ours: the server and the web/worker processes it started.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def run(
    *, mode: str, db: str, rate: float, seconds: float, trickle: list[float], via: str, run_phase
) -> dict[str, Any]:
    """One live measurement; `run_phase(name, env, **options)` runs a phase process."""
    redis = mode == "redis"
    stages: dict[str, float] = {}
    t = time.time()

    def stage(name: str) -> None:
        nonlocal t
        stages[name] = round(time.time() - t, 1)
        t = time.time()

    with tempfile.TemporaryDirectory(prefix=f"relais-bench-live-{mode}-") as tmp:
        var_dir = Path(tmp)
        env = environment.phase_env(var_dir=var_dir, db=db, redis=redis)
        if db == "postgres":
            environment.postgres_recreate()
        if redis:
            environment.redis_flush()
        setup = run_phase("live-setup", env)
        stage("migrate")
        server = Server(env, free_port(), var_dir / "server.log")
        client = None
        try:
            server.wait_ready()
            stage("start")
            client = SSEClient(server.base, environment.BENCH_USER, environment.BENCH_PASSWORD)
            thread = threading.Thread(target=client.run, daemon=True)
            thread.start()
            if not client.connected.wait(15) or client.error:
                raise RuntimeError(f"SSE client did not connect: {client.error}")
            time.sleep(1.0)  # let the subscription settle (Redis SUBSCRIBE is asynchronous)
            common = {
                "account_id": setup["account_id"],
                "via": via,
                "base": server.base,
                "settle": 20.0,
            }
            sent = run_phase("live-send", env, rate=rate, seconds=seconds, prefix="live", **common)
            stage("send")
            quiet = None
            if trickle:
                quiet = run_phase(
                    "live-send",
                    env,
                    rate=1,
                    seconds=0,
                    prefix="quiet",
                    gaps=",".join(str(g) for g in trickle),
                    **common,
                )
                stage("quiet")
            time.sleep(1.0)
        finally:
            if client is not None:
                client.stop.set()
            server.stop()
            stage("stop")
            if db == "postgres":
                environment.drop_postgres()
            if redis:
                environment.redis_flush()
        log_tail = (var_dir / "server.log").read_text(errors="replace")[-2000:]
    result = _score(client.received, sent["due"])
    result.update({k: v for k, v in sent.items() if k != "due"})
    result.update(
        mode=mode,
        db=db,
        rate=rate,
        seconds=seconds,
        client_error=client.error,
        stage_seconds=stages,
    )
    if quiet is not None:
        result["quiet"] = _score(client.received, quiet["due"])
        result["quiet"]["gaps"] = trickle
        result["quiet"]["latencies"] = [round(x, 3) for x in result["quiet"].pop("all")]
    result.pop("all", None)
    if "Traceback" in log_tail:
        result["server_log_tail"] = log_tail
    return result


def _score(received: list[Received], due: dict[str, float]) -> dict[str, Any]:
    arrival: dict[int, Received] = {}
    for r in received:
        for mid in r.message_ids:
            arrival.setdefault(mid, r)
    latencies, to_publish, fan_out = [], [], []
    for pk, at in due.items():
        r = arrival.get(int(pk))
        if r is None:
            continue
        latencies.append(r.at - at)
        to_publish.append(r.published_at - at)
        fan_out.append(r.at - r.published_at)
    events = sum(1 for r in received if any(str(m) in due for m in r.message_ids))
    return {
        "delivered": len(latencies),
        "expected": len(due),
        "events": events,
        "latency": _percentiles(latencies),
        "ingest_to_publish": _percentiles(to_publish),
        "publish_to_client": _percentiles(fan_out),
        "all": latencies,
    }
