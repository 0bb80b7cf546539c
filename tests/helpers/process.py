"""A real ``textlens-server serve`` process on a free port, for end-to-end tests."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers.auth import TEST_SECRET, UNLIMITED

_LISTENING = re.compile(r"TextLens listening on (\S+):(\d+)")


class ServerProcess:
    """Starts the server as a child process and collects its output."""

    def __init__(self, env: Mapping[str, str], cwd: Path, args: tuple[str, ...] = ("serve",)):
        self.env = {
            **os.environ,
            "TEXTLENS_PORT": "0",
            "TEXTLENS_JWT_SECRET": TEST_SECRET,
            "TEXTLENS_RATE_LIMIT": UNLIMITED,
            # One process unless a test asks for more: signals and kills then reach the server.
            "TEXTLENS_WORKERS": "1",
            "TEXTLENS_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.cwd = cwd
        self.args = args
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.port: int | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._readers: list[threading.Thread] = []

    @property
    def target(self) -> str:
        assert self.port is not None
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    # Two server processes loading their analyzers on two loaded cores can take 30 s.
    def start(self, timeout: float = 90.0) -> ServerProcess:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "server", *self.args],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        if not self._ready.wait(timeout):
            self.kill()
            raise RuntimeError("server did not start:\n" + "\n".join(self.stderr_lines[-30:]))
        if self.port is None:
            raise RuntimeError("server exited:\n" + "\n".join(self.stderr_lines[-30:]))
        return self

    def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self.stdout_lines.append(line.rstrip("\n"))
            match = _LISTENING.search(line)
            if match:
                self.port = int(match.group(2))
                self._ready.set()
        self._ready.set()

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            self.stderr_lines.append(line.rstrip("\n"))

    def problems(self, *fields: str) -> Counter[tuple[Any, ...]]:
        """The server's warning and error lines so far, counted by these fields (events and
        error types: its log lines never hold a text), so that an unexpected status in a
        test says where it came from."""
        return Counter(
            tuple(record.get(field) for field in fields)
            for record in self.log_records()
            if record.get("level") in ("warning", "error")
        )

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines the server wrote so far."""
        records = []
        for line in list(self.stderr_lines):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def signal(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        self._proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self._proc is not None
        code = self._proc.wait(timeout)
        self._close_pipes()
        return code

    def _close_pipes(self) -> None:
        assert self._proc is not None
        for reader in self._readers:
            reader.join(5)
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()

    def stop(self, timeout: float = 30.0) -> int:
        if self._proc is None:
            return 0
        if self._proc.poll() is not None:
            self._close_pipes()
            return self._proc.returncode
        self.signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)
            self._close_pipes()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
