"""The runtime of one server process: starts what bootstrap built, runs its background
tasks under supervision, and drains it all on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TextIO

import grpc.aio
import structlog
from grpc_health.v1 import health_pb2
from opentelemetry.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from server.adapters.cache import RedisResultCache
from server.adapters.db.engine import create_engine
from server.adapters.db.schema import close_engine, database_reachable, prepare_schema
from server.adapters.db.tracing import trace_engine
from server.auth.keys import purpose_secret
from server.auth.tokens import ALL_SCOPES, issue_token, load_keys, token_banner
from server.bootstrap import Graph, build
from server.config import Settings
from server.logs import announce
from server.memory import TRIM_EVERY_SECONDS, release_free_memory
from server.service.analyst import SWITCH_INTERVAL_SECONDS
from server.service.worker import BatchWorker
from server.tracing import export_endpoint
from server.tracing import shutdown as shutdown_tracing
from server.tracing import tracer_provider as make_tracer_provider
from server.transport.grpc_server import TEXTLENS_SERVICES, create_health_server, server_credentials
from server.transport.health import HealthServicer
from server.transport.metrics import PrometheusMetrics

log = structlog.get_logger("textlens.app")

PENDING_REFRESH_SECONDS = 5.0
HEALTH_CHECK_SECONDS = 1.0

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def shared_secret(settings: Settings, dev_secret: str | None) -> str:
    """What page-token and cache keys derive from: shared configuration, so that page
    tokens verify and cache entries open on every replica."""
    return purpose_secret(
        page_token_secret=(
            settings.page_token_secret.get_secret_value() if settings.page_token_secret else None
        ),
        jwt_secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
        dev_secret=dev_secret,
    )


class Application:
    """One server process: owns the engine, the gRPC server and what they were built from."""

    def __init__(
        self,
        settings: Settings,
        *,
        migrate_schema: bool = False,
        check_schema: bool = True,
        serve_metrics: bool = True,
        tracer_provider: TracerProvider | None = None,
        dev_secret: str | None = None,
        environ: Mapping[str, str] = os.environ,
        supervised: bool = False,
    ) -> None:
        self.settings = settings
        self.supervised = supervised
        self.migrate_schema = migrate_schema
        self.check_schema = check_schema
        self.serve_metrics = serve_metrics
        self.health = HealthServicer(settings.max_health_watches)
        self.keys = load_keys(settings, dev_secret)
        self._secret = shared_secret(settings, dev_secret)
        self.tracer_provider = tracer_provider or make_tracer_provider(
            settings.otlp_endpoint, environ
        )
        exporting = tracer_provider is not None or export_endpoint(settings.otlp_endpoint, environ)
        self.metrics = PrometheusMetrics(exemplars=bool(exporting))
        self.port: int | None = None
        self.metrics_port: int | None = None
        self.health_port: int | None = None
        self._graph: Graph | None = None
        self._health_server: grpc.aio.Server | None = None
        self._engine: AsyncEngine | None = None
        self.workers: list[BatchWorker] = []
        self._worker_tasks: list[asyncio.Task[None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    @property
    def engine(self) -> AsyncEngine:
        assert self._engine is not None, "not started"
        return self._engine

    def token(self, *, subject: str = "local", tenant: str | None = None, ttl: int = 86400) -> str:
        """A token with every scope, signed with this server's key (HS256 only)."""
        return issue_token(
            self.keys, subject=subject, scopes=ALL_SCOPES, tenant=tenant, ttl_seconds=ttl
        )

    async def start(self) -> int:
        """Prepares storage, binds the port, starts serving and returns the bound port."""
        settings = self.settings
        engine = self._engine = create_engine(settings.database_url)
        if self.check_schema:
            try:
                await prepare_schema(engine, apply=self.migrate_schema)
            except BaseException:
                await engine.dispose()
                raise
        trace_engine(engine, self.tracer_provider, background=settings.trace_background)
        graph = self._graph = build(
            settings,
            engine,
            keys=self.keys,
            secret=self._secret,
            metrics=self.metrics,
            tracer_provider=self.tracer_provider,
            health=self.health,
        )
        self.workers = graph.workers
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # see its comment
        for analyzer in graph.analyzers.values():
            # An opt-in analyzer whose data is not free for every use says so at each start.
            if notice := getattr(analyzer, "licence_notice", ""):
                log.warning("analyzer licence", analyzer=analyzer.info.name, notice=notice)
        self.port = self._bind(graph.server)
        await graph.server.start()
        if settings.health_port is not None:
            self._health_server = create_health_server(self.health)
            self.health_port = self._health_server.add_insecure_port(
                f"{settings.host}:{settings.health_port}"
            )
            await self._health_server.start()
        self._worker_tasks = [
            self._supervised(f"batch-worker-{i}", worker.run(self._stopping))
            for i, worker in enumerate(self.workers)
        ]
        self._tasks = [
            self._supervised("pending-gauge", self._every(PENDING_REFRESH_SECONDS, self._pending)),
            self._supervised("database-health", self._watch_database(engine)),
            self._supervised("memory-trim", self._every(TRIM_EVERY_SECONDS, self._trim_memory)),
        ]
        if settings.metrics_port is not None and self.serve_metrics:
            self.metrics_port = self.metrics.serve(settings.host, settings.metrics_port)
        await self._set_health(SERVING)
        log.info("serving", host=settings.host, port=self.port, metrics_port=self.metrics_port)
        return self.port

    def _bind(self, server: grpc.aio.Server) -> int:
        settings = self.settings
        address = f"{settings.host}:{settings.port}"
        credentials = server_credentials(
            settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file
        )
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
        if port == 0:
            raise RuntimeError(f"could not bind {address}")
        return port

    def _supervised(self, name: str, work: Awaitable[None]) -> asyncio.Task[None]:
        """A background task of this process: a failure is logged, never silently lost."""

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed", task=name)

        return asyncio.create_task(run(), name=name)

    async def _every(self, seconds: float, step: Callable[[], Awaitable[bool]]) -> None:
        """Runs ``step`` every ``seconds`` until the process stops or the step says so."""
        while not self._stopping.is_set() and await step():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _watch_database(self, engine: AsyncEngine) -> None:
        """Keeps health truthful: the textlens services are NOT_SERVING while the database
        cannot be reached. The server as a whole ("") stays SERVING, so a liveness probe
        does not restart a process that is fine and only waiting for its database."""
        serving = True

        async def check() -> bool:
            nonlocal serving
            reachable = await database_reachable(engine)
            if reachable != serving and not self._stopping.is_set():
                serving = reachable
                status = SERVING if reachable else NOT_SERVING
                for service in TEXTLENS_SERVICES:
                    await self.health.set(service, status)
                if reachable:
                    log.info("database reachable again: serving")
                else:
                    log.warning("database unreachable: health NOT_SERVING")
            return True

        await self._every(HEALTH_CHECK_SECONDS, check)

    async def _trim_memory(self) -> bool:
        """Keeps resident memory near what is in use, not at its high-water mark."""
        return release_free_memory()

    async def _pending(self) -> bool:
        """Keeps the pending-items gauge current (every replica sees the whole queue)."""
        if self._graph is None:
            return False
        with contextlib.suppress(Exception):
            async with self._graph.uow() as work:
                self.metrics.pending.set(await work.batches.pending_count())
        return True

    async def _set_health(self, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        for service in ("", *TEXTLENS_SERVICES):
            await self.health.set(service, status)

    async def stop(self, grace: float | None = None) -> None:
        """Drains: health NOT_SERVING at once; in-flight calls and batch chunks get ``grace``
        seconds; batch items still claimed are then released for other replicas."""
        graph, self._graph = self._graph, None
        if graph is None:
            return
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        started = time.monotonic()
        log.debug("draining", grace_seconds=grace)
        await self.health.enter_graceful_shutdown()
        self._stopping.set()
        await asyncio.gather(graph.server.stop(grace), self._stop_workers(grace))
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await graph.writer.close()
        graph.analyst.close()
        if isinstance(graph.cache, RedisResultCache):
            await graph.cache.close()
        if self._health_server is not None:
            await self._health_server.stop(0)
            self._health_server = None
        if self._engine is not None:
            await close_engine(self._engine)
        self.metrics.close()
        # Flushing waits on the collector: off the event loop.
        await asyncio.to_thread(shutdown_tracing, self.tracer_provider)
        # Under a supervisor, the supervisor says it once for all its processes.
        (log.debug if self.supervised else log.info)(
            "stopped cleanly", seconds=round(time.monotonic() - started, 2)
        )

    async def _stop_workers(self, grace: float) -> None:
        if not self._worker_tasks:
            return
        # A worker finishes its chunk and releases what it holds; past the grace period
        # it is cancelled, and still releases its claims on the way out.
        _, late = await asyncio.wait(self._worker_tasks, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*self._worker_tasks, return_exceptions=True)


async def serve(
    settings: Settings,
    *,
    migrate_schema: bool = False,
    banner: TextIO | None = None,
    worker_of: Path | None = None,
    dev_secret: str | None = None,
    parent_pid: int | None = None,
) -> None:
    """Runs one server until SIGTERM or SIGINT, then drains and returns.

    As one of several processes (``worker_of`` names its readiness file) the parent has
    already prepared the schema and serves the metrics; the child stops if orphaned.
    """
    app = Application(
        settings,
        migrate_schema=migrate_schema,
        check_schema=worker_of is None,
        serve_metrics=worker_of is None,
        dev_secret=dev_secret,
        supervised=worker_of is not None,
    )
    # The supervisor's pid, from the supervisor itself: the parent may die while this
    # process is still loading, and by then os.getppid() names init instead.
    parent = parent_pid if parent_pid is not None else os.getppid()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    orphan_watch: asyncio.Task[None] | None = None
    try:
        port = await app.start()
        # What is loaded by now (lexicons, models, the application) lives as long as the
        # process: the collector's full passes skip it. Walking it each time held the event
        # loop for 100-450 ms at a time while long texts streamed in.
        gc.freeze()
        if worker_of is not None:
            worker_of.touch()  # noqa: ASYNC240 - one tiny file, once
            orphan_watch = asyncio.create_task(_stop_when_orphaned(stop, parent))
        elif banner is not None:
            announce(f"TextLens listening on {settings.host}:{port}", banner)
            if app.keys.generated:
                hint = token_banner(app.keys, settings.host, port, settings.dev_secret_file)
                announce(hint, banner)
        await stop.wait()
    finally:
        if orphan_watch is not None:
            orphan_watch.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await app.stop()


async def _stop_when_orphaned(stop: asyncio.Event, parent: int) -> None:
    # Nothing signals a parent's death to its children; its pid changing does.
    while os.getppid() == parent:  # noqa: ASYNC110
        await asyncio.sleep(1)
    log.warning("parent process gone: stopping")
    stop.set()
