"""Composition root: builds adapters, use cases and the gRPC server from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import grpc.aio
import structlog
from grpc_health.v1 import health_pb2
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from server.adapters.cache import LruResultCache, RedisResultCache
from server.adapters.db import migrate
from server.adapters.db.engine import create_engine, is_sqlite
from server.adapters.db.tracing import trace_engine
from server.adapters.db.uow import SqlUnitOfWork
from server.adapters.db.writer import GroupCommitWriter
from server.adapters.ratelimit import LimitsRateLimiter
from server.config import Settings
from server.domain.analyzers import load_analyzers
from server.domain.errors import SchemaOutOfDate
from server.keys import derive_key, purpose_secret
from server.memory import TRIM_EVERY_SECONDS, release_free_memory
from server.metrics import PrometheusMetrics
from server.service.analyses import AnalysisUseCases
from server.service.analyst import SWITCH_INTERVAL_SECONDS, Analyst
from server.service.batches import BatchUseCases
from server.service.paging import Pager, PageTokens
from server.service.streaming import StreamUseCases
from server.service.worker import BatchWorker
from server.tracing import tracer_provider as make_tracer_provider
from server.transport.auth import (
    ALL_SCOPES,
    TokenVerifier,
    issue_token,
    load_keys,
    token_banner,
)
from server.transport.codec import StreamAnswerSize
from server.transport.grpc_server import (
    ANALYSIS_SERVICE,
    BATCH_SERVICE,
    MAX_MESSAGE_BYTES,
    REFLECTION_V1,
    REFLECTION_V1ALPHA,
    TEXTLENS_SERVICES,
    Capacity,
    create_health_server,
    create_server,
    server_credentials,
)
from server.transport.health import HealthServicer
from server.transport.interceptors.auth import AuthInterceptor
from server.transport.interceptors.concurrency import Cap, OpenCallsInterceptor
from server.transport.interceptors.request_context import RequestContextInterceptor
from server.transport.interceptors.tracing import TracingInterceptor
from server.transport.servicers import AnalysisServicer, BatchServicer

log = structlog.get_logger("textlens.app")

PENDING_REFRESH_SECONDS = 5.0
HEALTH_CHECK_SECONDS = 1.0
HEALTH_CHECK_TIMEOUT_SECONDS = 3.0

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def result_cache(settings: Settings) -> LruResultCache | RedisResultCache | None:
    """Redis's when configured, else this process's LRU; none with a size of 0."""
    if settings.result_cache_size == 0:
        return None
    if settings.redis_url:
        return RedisResultCache(settings.redis_url)
    return LruResultCache(settings.result_cache_size)


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


def tenant_caps(settings: Settings) -> OpenCallsInterceptor:
    """Each tenant's open streams and watches, and everyone's reflection streams, capped
    per server process (health watches are capped by the health servicer)."""
    reflection = Cap(
        "reflection streams",
        settings.max_reflection_streams,
        "TEXTLENS_MAX_REFLECTION_STREAMS",
        per_tenant=False,
    )
    return OpenCallsInterceptor(
        {
            f"/{REFLECTION_V1ALPHA}/ServerReflectionInfo": reflection,
            f"/{REFLECTION_V1}/ServerReflectionInfo": reflection,
            f"/{ANALYSIS_SERVICE}/AnalyzeStream": Cap(
                "streams", settings.max_streams_per_tenant, "TEXTLENS_MAX_STREAMS_PER_TENANT"
            ),
            f"/{BATCH_SERVICE}/WatchBatch": Cap(
                "watches", settings.max_watches_per_tenant, "TEXTLENS_MAX_WATCHES_PER_TENANT"
            ),
        }
    )


async def prepare_schema(engine: AsyncEngine, *, apply: bool) -> None:
    """Migrates the embedded SQLite (or any database when told); refuses a stale PostgreSQL."""
    if apply or is_sqlite(engine):
        await migrate.upgrade(engine)
        return
    current = await migrate.current_revision(engine)
    if current != migrate.head_revision():
        raise SchemaOutOfDate(
            f"database schema is at revision {current or 'none'}, this server needs "
            f"{migrate.head_revision()}: run `textlens-server migrate` (or `serve --migrate`)"
        )


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(HEALTH_CHECK_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not reachable now"
        return False
    return True


async def close_engine(engine: AsyncEngine) -> None:
    """Disposes the pool once every connection is back (calls cancelled by the shutdown
    finish their unit of work first), so none is dropped unclosed."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            # The pool offers no event to wait on, so it is polled.
            while engine.pool.checkedout():  # type: ignore[attr-defined]  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    await engine.dispose()


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
    ) -> None:
        self.settings = settings
        self.migrate_schema = migrate_schema
        self.check_schema = check_schema
        self.serve_metrics = serve_metrics
        self.health = HealthServicer(settings.max_health_watches)
        self.keys = load_keys(settings, dev_secret)
        self._secret = shared_secret(settings, dev_secret)
        self.tracer_provider = tracer_provider or make_tracer_provider(settings.otlp_endpoint)
        self.metrics = PrometheusMetrics()
        self.port: int | None = None
        self.metrics_port: int | None = None
        self.health_port: int | None = None
        self._server: grpc.aio.Server | None = None
        self._health_server: grpc.aio.Server | None = None
        self._writer: GroupCommitWriter | None = None
        self._analyst: Analyst | None = None
        self._cache: LruResultCache | RedisResultCache | None = None
        self._engine: AsyncEngine | None = None
        self.workers: list[BatchWorker] = []
        self._worker_tasks: list[asyncio.Task[None]] = []
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
        self._engine = create_engine(settings.database_url)
        if self.check_schema:
            try:
                await prepare_schema(self._engine, apply=self.migrate_schema)
            except BaseException:
                await self._engine.dispose()
                raise
        engine = self._engine
        trace_engine(engine, self.tracer_provider)

        def uow() -> SqlUnitOfWork:
            return SqlUnitOfWork(engine)

        self._cache = result_cache(settings)
        analyzers = load_analyzers(settings.analyzers)
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # long texts are analysed in a thread
        for analyzer in analyzers.values():
            # An opt-in analyzer whose data is not free for every use says so at each start.
            if notice := getattr(analyzer, "licence_notice", ""):
                log.warning("analyzer licence", analyzer=analyzer.info.name, notice=notice)
        analyst = self._analyst = Analyst(
            analyzers,
            cache=self._cache,
            cache_secret=derive_key(self._secret, "result-cache"),
            metrics=self.metrics,
        )
        pager = Pager(PageTokens(derive_key(self._secret, "page-tokens")))
        limiter = LimitsRateLimiter(settings.rate_limit, settings.redis_url)
        metrics = self.metrics
        max_chars = settings.max_text_chars
        self._writer = GroupCommitWriter(engine)
        analyses = AnalysisUseCases(
            uow,
            analyst,
            pager,
            max_text_chars=max_chars,
            limiter=limiter,
            metrics=metrics,
            writer=self._writer,
        )
        streams = StreamUseCases(
            uow,
            analyst,
            max_text_chars=max_chars,
            limiter=limiter,
            metrics=metrics,
            answer_size=StreamAnswerSize(MAX_MESSAGE_BYTES),
            messages_per_tenant=settings.stream_messages_per_tenant,
        )
        batches = BatchUseCases(
            uow,
            pager,
            max_text_chars=max_chars,
            max_batch_texts=settings.max_batch_texts,
            limiter=limiter,
        )
        self._server = create_server(
            # Outermost first: every call, even one refused by auth or the rate limit, gets
            # a request id, a log line, metrics and a span.
            interceptors=[
                RequestContextInterceptor(observers=[metrics]),
                TracingInterceptor(self.tracer_provider),
                AuthInterceptor(TokenVerifier(self.keys)),
                tenant_caps(settings),
            ],
            analysis=AnalysisServicer(
                analyses, streams, stream_idle_seconds=settings.stream_idle_seconds
            ),
            batches=BatchServicer(batches),
            health_servicer=self.health,
            capacity=Capacity(
                max_concurrent_rpcs=settings.max_concurrent_rpcs,
                max_streams_per_connection=settings.max_streams_per_connection,
                stream_window_bytes=settings.stream_window_bytes,
                connection_idle_seconds=settings.connection_idle_seconds,
            ),
        )
        self.workers = [
            BatchWorker(
                uow,
                analyst,
                chunk_size=settings.batch_chunk_size,
                lease_seconds=settings.batch_lease_seconds,
                idle_seconds=settings.batch_poll_seconds,
                wake=batches.created,
                metrics=metrics,
            )
            for _ in range(settings.batch_workers)
        ]
        address = f"{settings.host}:{settings.port}"
        credentials = server_credentials(
            settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file
        )
        if credentials is None:
            self.port = self._server.add_insecure_port(address)
        else:
            self.port = self._server.add_secure_port(address, credentials)
        if self.port == 0:
            raise RuntimeError(f"could not bind {address}")
        await self._server.start()
        if settings.health_port is not None:
            self._health_server = create_health_server(self.health)
            self.health_port = self._health_server.add_insecure_port(
                f"{settings.host}:{settings.health_port}"
            )
            await self._health_server.start()
        self._worker_tasks = [
            asyncio.create_task(worker.run(self._stopping), name=f"batch-worker-{i}")
            for i, worker in enumerate(self.workers)
        ]
        self._worker_tasks.append(
            asyncio.create_task(self._refresh_pending(uow), name="pending-gauge")
        )
        self._worker_tasks.append(
            asyncio.create_task(self._watch_database(engine), name="database-health")
        )
        self._worker_tasks.append(asyncio.create_task(self._trim_memory(), name="memory-trim"))
        if settings.metrics_port is not None and self.serve_metrics:
            self.metrics_port = self.metrics.serve(settings.host, settings.metrics_port)
        await self._set_health(SERVING)
        log.info("serving", host=settings.host, port=self.port, metrics_port=self.metrics_port)
        return self.port

    async def _watch_database(self, engine: AsyncEngine) -> None:
        """Keeps health truthful: the textlens services are NOT_SERVING while the database
        cannot be reached. The server as a whole ("") stays SERVING, so a liveness probe
        does not restart a process that is fine and only waiting for its database."""
        serving = True
        while not self._stopping.is_set():
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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), HEALTH_CHECK_SECONDS)

    async def _trim_memory(self) -> None:
        """Keeps resident memory near what is in use, not at its high-water mark."""
        while release_free_memory() and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TRIM_EVERY_SECONDS)

    async def _refresh_pending(self, uow: Callable[[], SqlUnitOfWork]) -> None:
        """Keeps the pending-items gauge current (every replica sees the whole queue)."""
        while not self._stopping.is_set():
            with contextlib.suppress(Exception):
                async with uow() as work:
                    self.metrics.pending.set(await work.batches.pending_count())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), PENDING_REFRESH_SECONDS)

    async def _set_health(self, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        for service in ("", *TEXTLENS_SERVICES):
            await self.health.set(service, status)

    async def stop(self, grace: float | None = None) -> None:
        """Drains: health NOT_SERVING at once; in-flight calls and batch chunks get ``grace``
        seconds; batch items still claimed are then released for other replicas."""
        if self._server is None:
            return
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        log.info("draining", grace_seconds=grace)
        await self.health.enter_graceful_shutdown()
        self._stopping.set()
        await asyncio.gather(self._server.stop(grace), self._stop_workers(grace))
        if self._writer is not None:
            await self._writer.close()
        if self._analyst is not None:
            self._analyst.close()
        if isinstance(self._cache, RedisResultCache):
            await self._cache.close()
        self._server = None
        if self._health_server is not None:
            await self._health_server.stop(0)
            self._health_server = None
        if self._engine is not None:
            await close_engine(self._engine)
        self.metrics.close()
        self.tracer_provider.shutdown()
        log.info("stopped")

    async def _stop_workers(self, grace: float) -> None:
        if not self._worker_tasks:
            return
        # A worker finishes its chunk and releases what it holds; past the grace period
        # it is cancelled, and still releases its claims on the way out.
        _, late = await asyncio.wait(self._worker_tasks, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*self._worker_tasks, return_exceptions=True)


async def prepare_schema_once(settings: Settings, *, apply: bool) -> None:
    """The schema step of ``serve``, run once by the parent of several server processes."""
    engine = create_engine(settings.database_url)
    try:
        await prepare_schema(engine, apply=apply)
    finally:
        await engine.dispose()


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
            print(f"TextLens listening on {settings.host}:{port}", file=banner, flush=True)
            if app.keys.generated:
                hint = token_banner(app.keys, settings.host, port, settings.dev_secret_file)
                print(hint, file=banner, flush=True)
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


async def run_migrations(settings: Settings) -> str | None:
    """Applies every pending migration; returns the revision the database is now at."""
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()
