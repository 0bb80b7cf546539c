"""The FastAPI peer: its own virtualenv (bench/.venv-peer), its database, its processes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import h2load
from database import Postgres
from processes import CpuMeter, MemorySampler, Started

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
APP_DIR = BENCH / "peers" / "fastapi_peer"
REQUIREMENTS = APP_DIR / "requirements.txt"
VENV = BENCH / ".venv-peer"
PATH = "/api/v1/analyses"
TABLE = "peer_analyses"
PY_SPY = "py-spy==0.4.3"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pip(*args: str) -> None:
    subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", *args],
        check=True,
    )  # fmt: skip


def ensure_venv() -> Path:
    """Creates or refreshes bench/.venv-peer from requirements.txt; returns its bin folder."""
    digest = hashlib.sha1(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    stamp = VENV / f".installed-{digest}"
    if not stamp.exists():
        if not (VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        _pip("-r", str(REQUIREMENTS))
        for old in VENV.glob(".installed-*"):
            old.unlink()
        stamp.touch()
    return VENV / "bin"


def ensure_py_spy() -> Path:
    """py-spy, for --profile, installed into the peer's virtualenv (never the project's)."""
    binary = ensure_venv() / "py-spy"
    if not binary.exists():
        _pip(PY_SPY)
    return binary


def environment(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PEER_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(ROOT)  # server.domain.analyzers, from this working tree
    return env


def create_schema(database_url: str) -> None:
    python = str(ensure_venv() / "python")
    subprocess.run([python, str(APP_DIR / "app.py")], env=environment(database_url), check=True)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start(database_url: str, port: int, workers: int, log: Path) -> Started:
    uvicorn = str(ensure_venv() / "uvicorn")
    argv = [uvicorn, "app:create_app", "--factory", "--app-dir", str(APP_DIR)]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    argv += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    argv += ["--no-access-log"]
    peer = Started(argv, environment(database_url), log)
    peer.wait_for(lambda: _healthy(port), "the FastAPI peer")
    # Each worker must have loaded the analyzer: wait until every one is up.
    peer.wait_for(lambda: len(peer.tree()) >= workers + 1, "the FastAPI peer's workers")
    return peer


def request_body(text: str) -> bytes:
    return json.dumps({"text_content": text, "analysis_type": "sentiment"}).encode()


def check(port: int, body: bytes, calls: int = 8) -> dict[str, int]:
    """HTTP statuses of a few real requests with the body h2load sends."""
    codes: dict[str, int] = {}
    for _ in range(calls):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{PATH}",
            data=body,
            headers={"content-type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                code = str(answer.status)
        except urllib.error.HTTPError as exc:
            code = str(exc.code)
        except (urllib.error.URLError, OSError) as exc:
            code = type(exc).__name__
        codes[code] = codes.get(code, 0) + 1
    return codes


class PeerRun:
    """The peer during one benchmark run: its database, its processes, its h2load points.

    It runs beside the TextLens server, idle while the server is measured, so that each of
    its points is taken right after the same point of the server: on a shared machine
    the two then see the same neighbours, and their ratio holds.
    """

    def __init__(self, pg: Postgres, database: str, workers: int, log: Path) -> None:
        self.pg = pg
        self.database = database
        self.workers = workers
        self.log = log
        self.port = 0
        self.process: Started | None = None
        self.sampler: MemorySampler | None = None

    def start(self) -> None:
        asyncio.run(self.pg.create(self.database))
        url = self.pg.url(self.database)
        create_schema(url)
        self.port = free_port()
        self.process = start(url, self.port, self.workers, self.log)
        self.sampler = MemorySampler(self.process)

    def point(
        self, length: str, concurrency: int, body: Path, duration: float, warm_up: float
    ) -> dict[str, Any]:
        assert self.process is not None
        assert self.sampler is not None
        self.sampler.phase = f"peer.{length}.c{concurrency}"
        checks = check(self.port, body.read_bytes())
        rows = self.pg.count(self.database, TABLE)
        meter = CpuMeter(self.process)
        point = h2load.run(
            f"http://127.0.0.1:{self.port}{PATH}",
            body,
            ["content-type: application/json"],
            concurrency=concurrency,
            duration=duration,
            warm_up=warm_up,
            h1=True,
        )
        cores = meter.cores(point.client_cpu_seconds)
        stored = self.pg.count(self.database, TABLE) - rows
        errors = point.errors + max(0, point.succeeded - stored)
        errors += sum(n for code, n in checks.items() if code != "201")
        return {
            **vars(point),
            "rows_stored": stored,
            "status_checks": checks,
            "errors": errors,
            **cores,
            "server_cpu_us_per_text": (
                cores["server_cpu_seconds"] / stored * 1e6 if stored else float("nan")
            ),
        }

    def stop(self) -> dict[str, Any]:
        """Stops the peer, drops its database; returns its memory figures."""
        figures: dict[str, Any] = {}
        if self.sampler is not None:
            self.sampler.close()
            figures = self.sampler.figures("peer")
        if self.process is not None:
            self.process.stop()
        asyncio.run(self.pg.drop(self.database))
        self.process = self.sampler = None
        return figures
