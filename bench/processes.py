"""Processes under test: start one with its output in a log file, stop it, watch its memory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil


class Started:
    """A process the harness started in a session of its own, with its whole tree."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.popen.pid

    def wait_for(self, ready: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{what} exited with {self.popen.returncode}; see {self.log}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{what} not ready after {timeout:.0f} s; see {self.log}")

    def wait_for_line(self, text: str, what: str, timeout: float = 90.0) -> None:
        self.wait_for(lambda: text in self.log.read_text(errors="replace"), what, timeout)

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def listening(self, port: int) -> int:
        """How many processes of the tree accept connections on ``port``."""
        count = 0
        for process in self.tree():
            try:
                sockets = process.net_connections(kind="tcp")
            except (psutil.Error, OSError):
                continue
            if any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in sockets):
                count += 1
        return count

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.tree():
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM to the process (it drains its children), then to its session if needed."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self._kill_session(signal.SIGKILL)
                self.popen.wait(5)
        self._kill_session(signal.SIGKILL)  # children left behind, if any
        return self.popen.returncode

    def _kill_session(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


class MemorySampler:
    """Samples the memory of a process tree in a thread: peaks overall and per phase.

    Two sums over the tree: RSS, which counts a page shared by forked processes once per
    process (so errs high), and PSS, which splits each shared page between its sharers
    (the tree's real footprint).
    """

    def __init__(self, target: Started, interval: float = 0.2) -> None:
        self._interval = interval
        self._target = target
        self.phase = ""
        self.peak = {"rss": 0, "pss": 0}
        self.phase_peaks: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()

    def sample(self) -> None:
        rss = pss = 0
        for process in self._target.tree():
            try:
                info = process.memory_full_info()
            except psutil.Error:
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        for kind, value in (("rss", rss), ("pss", pss)):
            self.peak[kind] = max(self.peak[kind], value)
            if self.phase:
                peaks = self.phase_peaks.setdefault(self.phase, {"rss": 0, "pss": 0})
                peaks[kind] = max(peaks[kind], value)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self, name: str) -> dict[str, Any]:
        mb = 2**20
        return {
            f"{name}_peak_rss_mb": self.peak["rss"] / mb,
            f"{name}_peak_pss_mb": self.peak["pss"] / mb,
            f"{name}_phase_peaks_mb": {
                phase: {k: v / mb for k, v in peaks.items()}
                for phase, peaks in self.phase_peaks.items()
            },
        }


def _postgres_cpu() -> dict[int, float]:
    found = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        times = process.info["cpu_times"]
        if process.info["name"] == "postgres" and times is not None:
            found[process.pid] = times.user + times.system
    return found


def machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + times.irq + times.softirq + times.steal


class CpuMeter:
    """Cores used over a window by the process under test, PostgreSQL, the load generator
    (given) and everything else on the machine (another tenant's work shows up there).

    PostgreSQL backends come and go with connections and take their CPU time with them,
    so they are sampled through the window, each counted from its first sight (or from
    zero when it started within the window) to its last."""

    def __init__(self, target: Started, interval: float = 0.25) -> None:
        self._target = target
        self._base = _postgres_cpu()
        self._last = dict(self._base)
        self._start = (time.monotonic(), target.cpu_seconds(), machine_busy_seconds())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._last.update(_postgres_cpu())

    def cores(self, client_cpu_seconds: float) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._last.update(_postgres_cpu())
        database = sum(cpu - self._base.get(pid, 0.0) for pid, cpu in self._last.items())
        now = (time.monotonic(), self._target.cpu_seconds(), machine_busy_seconds())
        wall, server, machine = (b - a for a, b in zip(self._start, now, strict=True))
        wall = max(wall, 1e-9)
        others = machine - server - database - client_cpu_seconds
        return {
            "server_cpu_seconds": server,
            "server_cores": server / wall,
            "database_cores": database / wall,
            "client_cores": client_cpu_seconds / wall,
            "other_cores": max(0.0, others / wall),
        }
