"""Several server processes on one port: a parent that starts, watches and stops them.

The children are fresh interpreters (``python -m server serve --worker-of DIR``), never
forks of a process that has started gRPC. Each binds the same port with SO_REUSEPORT, so
the kernel spreads connections across them; each runs its own batch workers. The parent
migrates the schema once, shares one signing key, serves the children's combined metrics,
restarts a child that dies, and on SIGTERM/SIGINT drains them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import structlog

from server.adapters.db import SchemaOutOfDate
from server.config import Settings
from server.domain.errors import Unavailable
from server.logs import announce

log = structlog.get_logger("textlens.supervisor")

RESTART_DELAY_SECONDS = 1.0
READY_TIMEOUT_SECONDS = 60.0


_SCHEMA_REFUSED = 3


def prepare_schema(apply: bool) -> None:
    """The schema step, in a process of its own: a refusal goes to stderr as one JSON line
    (its kind and message) for the parent to raise again."""
    from server.adapters.db.schema import prepare_schema_once  # noqa: PLC0415 - only there

    try:
        asyncio.run(prepare_schema_once(Settings().database_url, apply=apply))
    except (SchemaOutOfDate, Unavailable) as exc:
        refusal = {"kind": type(exc).__name__, "message": str(exc)}
        print(json.dumps(refusal), file=sys.stderr)
        sys.exit(_SCHEMA_REFUSED)


async def _prepare_schema_elsewhere(*, apply: bool) -> None:
    step = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.supervisor",
        "apply" if apply else "check",
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, stderr = await step.communicate()
    error = stderr.decode(errors="replace").strip()
    if step.returncode == _SCHEMA_REFUSED:
        refusal = json.loads(error.rpartition("\n")[2])  # its last line, after any logs
        kind = SchemaOutOfDate if refusal["kind"] == "SchemaOutOfDate" else Unavailable
        raise kind(refusal["message"])
    if step.returncode != 0:
        raise RuntimeError(f"the schema step failed ({step.returncode}): {error[-2000:]}")


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Supervisor:
    def __init__(
        self, settings: Settings, *, migrate_schema: bool, dev_secret: str | None = None
    ) -> None:
        self.settings = settings
        self.migrate_schema = migrate_schema
        # `serve --dev` with no key: the children read the same secret file.
        self.dev_secret = dev_secret
        self.count = settings.workers
        self.port = settings.port or free_port(settings.host)
        self.state = Path(tempfile.mkdtemp(prefix="textlens-workers-"))
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["TEXTLENS_PORT"] = str(self.port)
        env["TEXTLENS_WORKERS"] = "1"
        settings = self.settings
        if self.dev_secret is not None:
            env["TEXTLENS_DEV_SECRET_FILE"] = str(settings.dev_secret_file.resolve())
        if settings.metrics_port is not None:
            metrics = self.state / "metrics"
            metrics.mkdir(exist_ok=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        return env

    def _spawn(self, index: int) -> None:
        (self.state / f"ready-{index}").unlink(missing_ok=True)
        self.children[index] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "server",
                "serve",
                "--worker-of",
                str(self.state / f"ready-{index}"),
                "--parent-pid",
                str(os.getpid()),
                *(["--dev"] if self.dev_secret is not None else []),
            ],
            env=self._environment(),
            # The real stderr, not the pipe a JSON log relays native lines through
            # (server.native_log): a child outlives that relay if this process is killed.
            stderr=sys.stderr,
        )

    async def run(self, banner: TextIO | None) -> int:
        # The schema step needs the whole service's imports: it runs in a process of its
        # own, so that this one, which lives as long as the children, stays small.
        await _prepare_schema_elsewhere(apply=self.migrate_schema)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        metrics_server = self._serve_metrics()
        try:
            for index in range(self.count):
                self._spawn(index)
            await self._wait_ready()
            if banner is not None:
                self._print_banner(banner)
            while not stop.is_set():
                await self._restart_the_dead()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
            return await self._stop_all()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
            shutil.rmtree(self.state, ignore_errors=True)

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not all((self.state / f"ready-{i}").exists() for i in range(self.count)):
            if any(child.poll() is not None for child in self.children.values()):
                raise RuntimeError("a server process exited while starting; see its log above")
            if time.monotonic() > deadline:
                raise RuntimeError("server processes did not start in time")
            await asyncio.sleep(0.05)

    async def _restart_the_dead(self) -> None:
        for index, child in list(self.children.items()):
            code = child.poll()
            if code is not None and not self.stopping:
                log.error("server process died; restarting it", child_pid=child.pid, exit_code=code)
                self._mark_dead(child.pid)
                await asyncio.sleep(RESTART_DELAY_SECONDS)
                self._spawn(index)

    async def _stop_all(self) -> int:
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds + 10
        while any(c.poll() is None for c in self.children.values()):
            if time.monotonic() > deadline:
                for child in self.children.values():
                    if child.poll() is None:
                        child.kill()
            await asyncio.sleep(0.05)
        codes = [child.returncode for child in self.children.values()]
        # -SIGTERM: a child still starting (no handler yet, nothing in flight) when it came.
        if all(code in (0, -signal.SIGTERM) for code in codes):
            log.info("stopped cleanly", processes=len(codes))
            return 0
        log.error("stopped; some server processes failed", exit_codes=codes)
        return 1

    def _serve_metrics(self) -> Any:
        if self.settings.metrics_port is None:
            return None
        from prometheus_client import start_http_server  # noqa: PLC0415

        from server.transport.metrics_processes import combined_registry  # noqa: PLC0415

        directory = self.state / "metrics"
        directory.mkdir(exist_ok=True)
        registry = combined_registry(str(directory), self._live_children)
        server, _ = start_http_server(
            self.settings.metrics_port, addr=self.settings.host, registry=registry
        )
        return server

    def _live_children(self) -> list[int]:
        return [child.pid for child in list(self.children.values()) if child.poll() is None]

    def _mark_dead(self, pid: int) -> None:
        if self.settings.metrics_port is not None:
            from prometheus_client import multiprocess  # noqa: PLC0415

            multiprocess.mark_process_dead(pid, path=str(self.state / "metrics"))  # type: ignore[no-untyped-call]

    def _print_banner(self, banner: TextIO) -> None:
        host = self.settings.host
        announce(f"TextLens listening on {host}:{self.port} ({self.count} processes)", banner)
        if self.dev_secret is not None and self.settings.jwt_public_key_file is None:
            from server.auth.tokens import load_keys, token_banner  # noqa: PLC0415

            keys = load_keys(self.settings, self.dev_secret)
            hint = token_banner(keys, host, self.port, self.settings.dev_secret_file)
            announce(hint, banner)


if __name__ == "__main__":  # the schema step: python -m server.supervisor apply|check
    prepare_schema(sys.argv[1] == "apply")
