"""The measured phases: the server (unary, streams, batches) and the peer, one after the other.

Each service figure is checked before it is trusted: unary points against a real client's
grpc-status and the rows stored, streams and batches by counting their results in the
database. A figure whose check failed carries its errors, and they are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h2load
import peer
import rpc_load
import server_profile
from database import Postgres, stored_among
from grpc_health.v1 import health_pb2
from processes import CpuMeter, MemorySampler, Started
from workload import LENGTHS, REPEATED, Texts, grpc_frame

from textlens.v1 import analysis_service_pb2

SERVER = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "textlens-server"
ECHO_SERVER = Path(__file__).resolve().parent / "echo_server.py"
HEALTH_URL = "http://127.0.0.1:{port}/grpc.health.v1.Health/Check"
ECHO_URL = "http://127.0.0.1:{port}/bench.Echo/Echo"
# Per-call overhead is compared at one moderate concurrency, with no warm-up: every call
# h2load makes falls inside the CPU window it is divided by.
OVERHEAD_CONCURRENCY = 16
CREATE_URL = "http://127.0.0.1:{port}/textlens.v1.AnalysisService/CreateAnalysis"
SCOPES = "analyses:read analyses:write batches:read batches:write"
MAX_BATCH_TEXTS = 10_000
MAX_BATCH_BYTES = 8 * 1024 * 1024
ITEMS_PER_MESSAGE = 100
MESSAGES_IN_FLIGHT = 4
WORKLOADS = ("distinct", "repeated")


def per_text(cores: dict[str, float], texts: int) -> float:
    """Server CPU (all its processes) per text, in microseconds."""
    return cores["server_cpu_seconds"] / texts * 1e6 if texts else float("nan")


class Harness:
    def __init__(
        self, args: argparse.Namespace, pg: Postgres, stamp: str, ceilings: dict[str, float]
    ) -> None:
        self.args = args
        self.pg = pg
        self.stamp = stamp
        self.ceilings = ceilings
        self.texts = Texts()
        self.tmp = Path(tempfile.mkdtemp(prefix="textlens-bench-"))
        self.logs = args.results / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.server: dict[str, Any] = {}
        # Unary points with the result cache on (h2load repeats one text, so all but the
        # first call are hits) and off (every call analysed, as the peer does).
        self.unary: dict[str, dict[str, Any]] = {}
        self.unary_uncached: dict[str, dict[str, Any]] = {}
        # Server CPU per call: a bare grpc.aio echo, Health/Check through every interceptor.
        self.overhead: dict[str, dict[str, Any]] = {}
        self.secret = secrets.token_hex(32)
        self.stream: dict[str, dict[str, Any]] = {}
        self.batch: dict[str, dict[str, Any]] = {}
        self.peer: dict[str, Any] = {}
        self.memory: dict[str, Any] = {}
        self.notes: list[str] = []
        self.failures: list[str] = []
        self.profile: dict[str, Any] | None = None
        self.database = ""
        self.metadata: tuple[tuple[str, str], ...] = ()
        self.token: str | None = None
        self.peer_run: peer.PeerRun | None = None

    # -- the server ----------------------------------------------------------------

    def _environment(self, port: int, *, cache: bool = True) -> dict[str, str]:
        env = dict(os.environ)
        if not cache:
            env["TEXTLENS_RESULT_CACHE_SIZE"] = "0"
        env.update(
            TEXTLENS_HOST="127.0.0.1",
            TEXTLENS_PORT=str(port),
            TEXTLENS_DATABASE_URL=self.pg.url(self.database),
            TEXTLENS_LOG_LEVEL="WARNING",
            TEXTLENS_JWT_SECRET=self.secret,
            TEXTLENS_RATE_LIMIT="1000000000/minute",
            TEXTLENS_WORKERS=str(self.args.workers),
        )
        return env

    def _sign_token(self, env: dict[str, str]) -> str | None:
        """A token when the server has the `token` command (and so checks tokens)."""
        probe = subprocess.run(
            [str(SERVER), "token", "--help"], check=False, env=env, capture_output=True, text=True
        )
        if probe.returncode != 0:
            return None
        argv = [str(SERVER), "token", "--subject", "bench", "--scope", SCOPES]
        if "--ttl" in probe.stdout:
            argv += ["--ttl", "7200"]
        signed = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        return signed.stdout.strip().splitlines()[-1].strip()

    def run(self) -> None:
        """The server's phases, with the peer's unary points taken beside the server's."""
        self.peer_run = self._start_peer()
        try:
            if not self.args.no_server:
                self.run_server()
            elif self.peer_run is not None:
                for length in LENGTHS:
                    for concurrency in self.args.concurrency:
                        self._guard("peer", self._peer_point, length, concurrency)
        finally:
            self._stop_peer()

    def _start_peer(self) -> peer.PeerRun | None:
        if self.args.no_peer:
            return None
        if not h2load.available():
            self.notes.append("h2load not found: the FastAPI peer was not run")
            return None
        database = f"textlens_bench_{self.stamp.lower()}_peer"
        log = self.logs / f"{self.stamp}-peer.log"
        peer_run = peer.PeerRun(self.pg, database, self.args.workers, log)
        try:
            peer_run.start()
        except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
            self.notes.append(f"FastAPI peer not run: {exc}")
            peer_run.stop()
            return None
        self.peer.update(workers=self.args.workers, log=str(log))
        for length in LENGTHS:
            (self.tmp / f"peer-{length}.json").write_bytes(peer.request_body(REPEATED[length]))
        return peer_run

    def _stop_peer(self) -> None:
        if self.peer_run is not None:
            self.memory.update(self.peer_run.stop())
            self.peer_run = None

    def _peer_point(self, length: str, concurrency: int) -> None:
        assert self.peer_run is not None
        body = self.tmp / f"peer-{length}.json"
        args = self.args
        point = self.peer_run.point(length, concurrency, body, args.duration, args.warm_up)
        point["ratio_to_ceiling"] = point["requests_per_second"] / self.ceilings[length]
        self.peer.setdefault(length, {})[f"c{concurrency}"] = point

    def run_server(self) -> None:
        self.database = f"textlens_bench_{self.stamp.lower()}"
        asyncio.run(self.pg.create(self.database))
        try:
            port = peer.free_port()
            env = self._environment(port)
            self.token = self._sign_token(env)
            if self.token:
                self.metadata = (("authorization", f"Bearer {self.token}"),)
            log = self.logs / f"{self.stamp}-server.log"
            # Migrating first, once, spares several serving processes from racing to do it.
            subprocess.run([str(SERVER), "migrate"], env=env, check=True, capture_output=True)
            # The comparisons first: uncached unary beside the peer, and the bare echo;
            # then the peer stops and the server has the machine to itself.
            self._guard("unary.uncached", self._unary_uncached)
            self._stop_peer()
            self._guard("overhead.echo", self._echo_point)
            server = Started([str(SERVER), "serve"], env, log)
            sampler = MemorySampler(server)
            try:
                server.wait_for_line("TextLens listening on", "the TextLens server")
                time.sleep(1.0)  # let every serving process come up
                self.server = {
                    "workers_configured": self.args.workers,
                    "processes_listening": server.listening(port),
                    "processes": len(server.tree()),
                    "auth": bool(self.token),
                    "log": str(log),
                }
                target = f"127.0.0.1:{port}"
                self._guard("unary", self._unary, server, sampler, port, self.unary)
                self._guard("overhead.health", self._health_point, server, port)
                for phase in (self._stream, self._batch):
                    for workload in WORKLOADS:
                        for length in LENGTHS:
                            name = f"{phase.__name__[1:]}.{workload}.{length}"
                            self._guard(name, phase, server, sampler, target, workload, length)
                self.server["processes_at_end"] = len(server.tree())
            finally:
                sampler.close()
                self.memory.update(sampler.figures("server"))
                self.server["exit_code"] = server.stop()
        finally:
            asyncio.run(self.pg.drop(self.database))

    def _overhead_point(self, target: Started, url: str, body: bytes) -> dict[str, Any]:
        if not h2load.available():
            return {}
        path = self.tmp / "overhead.bin"
        path.write_bytes(grpc_frame(body))
        headers = ["content-type: application/grpc", "te: trailers"]
        meter = CpuMeter(target)
        point = h2load.run(
            url,
            path,
            headers,
            concurrency=OVERHEAD_CONCURRENCY,
            duration=self.args.duration,
            warm_up=0,
        )
        cores = meter.cores(point.client_cpu_seconds)
        return {
            **vars(point),
            **cores,
            "server_cpu_us_per_call": per_text(cores, point.succeeded - point.redirects),
        }

    def _health_point(self, server: Started, port: int) -> None:
        """grpc.health.v1.Health/Check through all of TextLens's interceptors."""
        request = health_pb2.HealthCheckRequest(service="").SerializeToString()
        point = self._overhead_point(server, HEALTH_URL.format(port=port), request)
        if point:
            self.overhead["health_check"] = point

    def _echo_point(self) -> None:
        """The same load on a bare grpc.aio server with as many processes."""
        port = peer.free_port()
        argv = [sys.executable, str(ECHO_SERVER), str(port), str(self.args.workers)]
        echo = Started(argv, dict(os.environ), self.logs / f"{self.stamp}-echo.log")
        try:
            echo.wait_for_line("echo listening", "the echo server")
            time.sleep(1.0)  # let every process come up
            point = self._overhead_point(echo, ECHO_URL.format(port=port), b"x" * 64)
            if point:
                self.overhead["echo"] = point
        finally:
            echo.stop()

    def _unary_uncached(self) -> None:
        """The unary points again on a server with the result cache off, each beside the
        same point of the peer: the comparison of two services that analyse every call."""
        with self._serving("uncached", cache=False) as (server, sampler, port):
            self._unary(server, sampler, port, self.unary_uncached, beside_peer=True)

    @contextmanager
    def _serving(self, name: str, *, cache: bool) -> Iterator[tuple[Started, MemorySampler, int]]:
        port = peer.free_port()
        server = Started(
            [str(SERVER), "serve"],
            self._environment(port, cache=cache),
            self.logs / f"{self.stamp}-{name}.log",
        )
        sampler = MemorySampler(server)
        try:
            server.wait_for_line("TextLens listening on", f"the TextLens server ({name})")
            time.sleep(1.0)  # let every serving process come up
            yield server, sampler, port
        finally:
            sampler.close()
            self.memory.update(sampler.figures(name))
            server.stop()

    def _guard(self, name: str, phase: Callable[..., None], *args: Any) -> None:
        """Runs one phase; a failure is reported and the next phase still runs."""
        try:
            phase(*args)
        except Exception as exc:
            self.failures.append(f"{name}: {type(exc).__name__}: {exc}"[:500])

    def _unary(
        self,
        server: Started,
        sampler: MemorySampler,
        port: int,
        points: dict[str, dict[str, Any]],
        *,
        beside_peer: bool = False,
    ) -> None:
        if not h2load.available():
            self.notes.append("h2load not found (apt-get install nghttp2-client): no unary figures")
            return
        headers = ["content-type: application/grpc", "te: trailers"]
        headers += [f"{k}: {v}" for k, v in self.metadata]
        for length in LENGTHS:
            request = analysis_service_pb2.CreateAnalysisRequest(
                text=REPEATED[length], analysis_type=rpc_load.SENTIMENT
            ).SerializeToString()
            body = self.tmp / f"unary-{length}.bin"
            body.write_bytes(grpc_frame(request))
            points[length] = {}
            for concurrency in self.args.concurrency:
                sampler.phase = f"unary.{length}.c{concurrency}"
                point = self._unary_point(server, port, request, body, headers, concurrency)
                if beside_peer and self.peer_run is not None:  # the peer's point, right after
                    name = f"peer.{length}.c{concurrency}"
                    self._guard(name, self._peer_point, length, concurrency)
                if point.get("skipped"):
                    self.notes.append(
                        f"unary {length} c{concurrency} skipped: no call succeeded "
                        f"({point['status_checks']})"
                    )
                    continue
                point["ratio_to_ceiling"] = point["requests_per_second"] / self.ceilings[length]
                points[length][f"c{concurrency}"] = point

    def _unary_point(
        self,
        server: Started,
        port: int,
        request: bytes,
        body: Path,
        headers: list[str],
        concurrency: int,
    ) -> dict[str, Any]:
        target = f"127.0.0.1:{port}"
        before = asyncio.run(rpc_load.check_unary(target, request, self.metadata))
        if not before.get("OK"):
            return {"concurrency": concurrency, "status_checks": dict(before), "skipped": True}
        rows = self.pg.count(self.database, "analyses")
        meter = CpuMeter(server)
        spy = self._start_profile(server, body.name, concurrency)
        point = h2load.run(
            CREATE_URL.format(port=port),
            body,
            headers,
            concurrency=concurrency,
            duration=self.args.duration,
            warm_up=self.args.warm_up,
        )
        cores = meter.cores(point.client_cpu_seconds)
        stored = self.pg.count(self.database, "analyses") - rows
        self._finish_profile(spy)
        after = asyncio.run(rpc_load.check_unary(target, request, self.metadata))
        checks = before + after
        errors = point.errors + max(0, point.succeeded - stored)
        errors += sum(n for code, n in checks.items() if code != "OK")
        return {
            **vars(point),
            "rows_stored": stored,
            "status_checks": dict(checks),
            "errors": errors,
            **cores,
            # Every request of the window (warm-up too) stored one row.
            "server_cpu_us_per_text": per_text(cores, stored),
        }

    def _start_profile(self, server: Started, body: str, concurrency: int) -> Any:
        if not (self.args.profile and body == "unary-short.bin"):
            return None
        if concurrency != max(self.args.concurrency):
            return None
        try:
            py_spy = peer.ensure_py_spy()
        except (OSError, subprocess.CalledProcessError) as exc:
            self.notes.append(f"--profile: py-spy unavailable ({exc})")
            return None
        raw = self.args.results / f"{self.stamp}-profile-unary-short-c{concurrency}.txt"
        seconds = self.args.warm_up + self.args.duration
        return raw, server_profile.start(py_spy, server.pid, seconds, raw)

    def _finish_profile(self, spy: Any) -> None:
        if spy is None:
            return
        raw, process = spy
        _, stderr = process.communicate(timeout=60)
        if raw.exists():
            self.profile = {"file": str(raw), **server_profile.summarize(raw)}
        else:
            self.notes.append(f"--profile: py-spy wrote nothing ({stderr.decode()[-300:]})")

    def _stream(
        self, server: Started, sampler: MemorySampler, target: str, workload: str, length: str
    ) -> None:
        sampler.phase = f"stream.{workload}.{length}"
        args = self.args
        if workload == "repeated":
            message = rpc_load.stream_message([REPEATED[length]] * ITEMS_PER_MESSAGE)

            def next_message() -> bytes | None:
                return message
        else:
            # Enough distinct texts for the ceiling's rate with room to spare; a server
            # that runs out of them ends its run early, and its rate stays right.
            wanted = self.ceilings[length] * args.stream_seconds * 1.5
            count = math.ceil(wanted / ITEMS_PER_MESSAGE) + args.streams * MESSAGES_IN_FLIGHT
            messages = iter(
                [
                    rpc_load.stream_message(texts)
                    for texts in self.texts.chunks(length, count * ITEMS_PER_MESSAGE, 100)
                ]
            )

            def next_message() -> bytes | None:
                return next(messages, None)

        rows = self.pg.count(self.database, "analyses")
        meter = CpuMeter(server)
        run = asyncio.run(
            rpc_load.stream_phase(
                target,
                self.metadata,
                next_message,
                streams=args.streams,
                in_flight=MESSAGES_IN_FLIGHT,
                duration=args.stream_seconds,
            )
        )
        cores = meter.cores(run.client_cpu_seconds)
        stored = asyncio.run(stored_among(self.pg, self.database, "id", run.ids))
        if stored is None:
            stored = self.pg.count(self.database, "analyses") - rows
        errors = sum(run.errors.values()) + abs(run.ok - stored)
        rate = run.ok / run.seconds if run.seconds else 0.0
        self.stream.setdefault(workload, {})[length] = {
            "texts": run.texts,
            "ok": run.ok,
            "stored": stored,
            "messages": run.messages,
            "streams": args.streams,
            "seconds": run.seconds,
            "texts_per_second": rate,
            "ratio_to_ceiling": rate / self.ceilings[length],
            "errors": errors,
            "error_kinds": dict(run.errors.most_common(5)),
            **cores,
            "server_cpu_us_per_text": per_text(cores, run.ok),
        }

    def _batch(
        self, server: Started, sampler: MemorySampler, target: str, workload: str, length: str
    ) -> None:
        sampler.phase = f"batch.{workload}.{length}"
        short = length == "short"
        total = self.args.batch_texts if short else self.args.long_batch_texts
        time_limit = self.args.batch_timeout * (1.0 if short else 0.5)
        text_bytes = len(REPEATED[length].encode()) + 8
        size = max(1, min(MAX_BATCH_TEXTS, MAX_BATCH_BYTES // text_bytes))
        chunks = list(self.texts.chunks(length, total, size, repeated=workload == "repeated"))
        meter = CpuMeter(server)
        run = asyncio.run(rpc_load.batch_phase(target, self.token, chunks, time_limit=time_limit))
        cores = meter.cores(run.client_cpu_seconds)
        stored = asyncio.run(stored_among(self.pg, self.database, "batch_id", run.batches))
        complete = run.statuses.get("BATCH_STATUS_COMPLETED", 0) == len(run.batches)
        # Out of time, rows stored after the last snapshot (before the cancel) are fine.
        missing = 0 if stored is None else run.completed - stored
        errors = run.failed + (max(0, missing) if run.timed_out else abs(missing))
        errors += 0 if run.timed_out or (complete and run.completed == run.texts) else 1
        errors += len(run.cancel_errors)
        rate = run.completed / run.seconds if run.seconds else 0.0
        self.batch.setdefault(workload, {})[length] = {
            "texts": run.texts,
            "batches": len(run.batches),
            "texts_per_batch": size,
            "submit_seconds": run.submit_seconds,
            "seconds": run.seconds,
            "completed": run.completed,
            "failed": run.failed,
            "stored": stored,
            "statuses": dict(run.statuses),
            "timed_out": run.timed_out,
            "cancel_errors": run.cancel_errors,
            # Work after the last snapshot of an unfinished run is counted as done.
            "server_cpu_us_per_text": per_text(cores, max(run.completed, stored or 0)),
            "texts_per_second": rate,
            "ratio_to_ceiling": rate / self.ceilings[length],
            "errors": errors,
            **cores,
        }

    # -- the peer ------------------------------------------------------------------

    # -- results -------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        """The comparable figures, nested; run.py flattens them into dotted names."""
        keep = ("requests_per_second", "p50_ms", "p99_ms", "ratio_to_ceiling")
        unary: dict[str, Any] = {}
        uncached: dict[str, Any] = {}
        for kind, measured in ((unary, self.unary), (uncached, self.unary_uncached)):
            for length, points in measured.items():
                for name, point in points.items():
                    figures = {k: point[k] for k in keep}
                    figures["server_cpu_us_per_text"] = point["server_cpu_us_per_text"]
                    peer_point = self.peer.get(length, {}).get(name)
                    if peer_point and peer_point["requests_per_second"]:
                        figures["ratio_to_peer"] = (
                            point["requests_per_second"] / peer_point["requests_per_second"]
                        )
                        point["ratio_to_peer"] = figures["ratio_to_peer"]
                    kind.setdefault(length, {})[name] = figures
        peer_figures = {
            length: {name: {k: p[k] for k in keep} for name, p in points.items()}
            for length, points in self.peer.items()
            if length in LENGTHS
        }
        stream = {
            w: {
                n: {k: v[k] for k in ("texts_per_second", "ratio_to_ceiling")} for n, v in x.items()
            }
            for w, x in self.stream.items()
        }
        batch = {
            w: {
                n: {k: v[k] for k in ("seconds", "texts_per_second", "ratio_to_ceiling")}
                for n, v in x.items()
            }
            for w, x in self.batch.items()
        }
        memory = {k: v for k, v in self.memory.items() if isinstance(v, float)}
        overhead = {
            name: {"server_cpu_us_per_call": point["server_cpu_us_per_call"]}
            for name, point in self.overhead.items()
        }
        echo = overhead.get("echo", {}).get("server_cpu_us_per_call")
        cached = self.unary.get("short", {}).get(f"c{OVERHEAD_CONCURRENCY}")
        if echo:
            if "health_check" in overhead:
                health = overhead["health_check"]
                health["ratio_to_echo"] = health["server_cpu_us_per_call"] / echo
            if cached:
                overhead["cached_create"] = {
                    "server_cpu_us_per_call": cached["server_cpu_us_per_text"],
                    "ratio_to_echo": cached["server_cpu_us_per_text"] / echo,
                }
        return {
            "overhead": overhead,
            "unary": unary,
            "unary_uncached": uncached,
            "stream": stream,
            "batch": batch,
            "peer": peer_figures,
            "memory": memory,
        }

    def document(self) -> dict[str, Any]:
        shutil.rmtree(self.tmp, ignore_errors=True)
        notes = [
            "h2load repeats one request body: with the result cache on, it serves all but the "
            "first unary call; the peer has no cache, so it is compared with the server "
            "run with TEXTLENS_RESULT_CACHE_SIZE=0, which analyses every call",
            f"the load generators (h2load, this harness's gRPC client) share the "
            f"{os.cpu_count()} cores with the server: cores columns say who used them (server, "
            "PostgreSQL, client, and other: anything else running on the machine)",
            "memory is summed over the server's process tree, sampled every 0.2 s: RSS counts "
            "pages shared between processes once per process, PSS splits them",
        ]
        if self.profile:
            notes.append("py-spy sampled the server during unary short at the top concurrency")
        if self.args.long_batch_texts != self.args.batch_texts:
            notes.append(
                f"long batches carry {self.args.long_batch_texts:,} texts and short ones "
                f"{self.args.batch_texts:,}, to keep the run within its time"
            )
        return {
            "server": self.server,
            "unary": self.unary,
            "unary_uncached": self.unary_uncached,
            "overhead": self.overhead,
            "stream": self.stream,
            "batch": self.batch,
            "peer": self.peer,
            "memory": self.memory,
            "profile": self.profile,
            "notes": notes + self.notes,
            "failures": self.failures,
        }
