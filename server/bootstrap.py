"""Composition root: the object graph of one server process, built from Settings alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc.aio
from grpc_health.v1 import health_pb2
from opentelemetry.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from server.adapters.analysis_process import AnalysisProcess
from server.adapters.cache import ResultCacheAdapter, result_cache
from server.adapters.db.uow import SqlUnitOfWork
from server.adapters.db.writer import GroupCommitWriter
from server.adapters.ratelimit import LimitsRateLimiter
from server.auth.keys import derive_key
from server.auth.tokens import JwtKeys, TokenVerifier
from server.config import Settings
from server.domain.analyzers import load_analyzers
from server.domain.analyzers.base import Analyzer
from server.domain.model import AnalysisType
from server.service.analyses import AnalysisUseCases
from server.service.analyst import Analyst
from server.service.batches import BatchUseCases
from server.service.concurrency import TenantActivity
from server.service.paging import Pager, PageTokens
from server.service.streaming import StreamUseCases
from server.service.worker import BatchWorker
from server.transport import grpc_server as g
from server.transport.codec import StreamAnswerSize
from server.transport.health import HealthServicer
from server.transport.interceptors.auth import AuthInterceptor
from server.transport.interceptors.concurrency import tenant_caps
from server.transport.interceptors.request_context import RequestContextInterceptor
from server.transport.interceptors.tracing import TracingInterceptor
from server.transport.metrics import PrometheusMetrics, methods_of
from server.transport.servicers import AnalysisServicer, BatchServicer
from textlens.v1 import analysis_service_pb2, batch_service_pb2

# Whose call series exist from the start (reflection's come with its first call).
SERVED_SERVICES = (
    analysis_service_pb2.DESCRIPTOR.services_by_name["AnalysisService"],
    batch_service_pb2.DESCRIPTOR.services_by_name["BatchService"],
    health_pb2.DESCRIPTOR.services_by_name["Health"],
)


@dataclass(frozen=True, slots=True)
class Graph:
    """What a server process runs: its gRPC server, batch workers, and what they hold."""

    server: grpc.aio.Server
    workers: list[BatchWorker]
    uow: Callable[[], SqlUnitOfWork]
    writer: GroupCommitWriter
    analyst: Analyst
    analyzers: dict[AnalysisType, Analyzer]
    cache: ResultCacheAdapter | None


def build(
    settings: Settings,
    engine: AsyncEngine,
    *,
    keys: JwtKeys,
    secret: str,
    metrics: PrometheusMetrics,
    tracer_provider: TracerProvider,
    health: HealthServicer,
) -> Graph:
    """Adapters, use cases, servicers and interceptors, wired; nothing started."""

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    cache = result_cache(settings)
    analyzers = load_analyzers(settings.analyzers)
    activity = TenantActivity()  # which tenants made calls lately, for fair shares
    analyst = Analyst(
        analyzers,
        cache=cache,
        cache_secret=derive_key(secret, "result-cache"),
        metrics=metrics,
        isolated=AnalysisProcess(analyzers),
        activity=activity,
    )
    pager = Pager(PageTokens(derive_key(secret, "page-tokens")))
    limiter = LimitsRateLimiter(settings.rate_limit, settings.redis_url)
    writer = GroupCommitWriter(engine)
    max_chars = settings.max_text_chars
    analyses = AnalysisUseCases(
        uow, analyst, pager, max_text_chars=max_chars, limiter=limiter, metrics=metrics,
        writer=writer,
    )  # fmt: skip
    streams = StreamUseCases(
        uow, analyst, max_text_chars=max_chars, limiter=limiter, metrics=metrics,
        answer_size=StreamAnswerSize(g.MAX_MESSAGE_BYTES),
        messages_per_tenant=settings.stream_messages_per_tenant,
        tenant_share=settings.stream_tenant_share, activity=activity,
    )  # fmt: skip
    batches = BatchUseCases(
        uow, pager, max_text_chars=max_chars, max_batch_texts=settings.max_batch_texts,
        limiter=limiter,
    )  # fmt: skip
    server = g.create_server(
        # Outermost first: every call, even one refused by auth or the rate limit, gets a
        # request id, a log line, metrics and a span.
        interceptors=[
            RequestContextInterceptor(observers=[metrics]),
            TracingInterceptor(tracer_provider, probes=settings.trace_background),
            AuthInterceptor(TokenVerifier(keys), activity),
            tenant_caps(settings),
        ],
        analysis=AnalysisServicer(
            analyses, streams, stream_idle_seconds=settings.stream_idle_seconds
        ),
        batches=BatchServicer(batches),
        health_servicer=health,
        capacity=g.Capacity(
            max_concurrent_rpcs=settings.max_concurrent_rpcs,
            max_streams_per_connection=settings.max_streams_per_connection,
            stream_window_bytes=settings.stream_window_bytes,
            connection_idle_seconds=settings.connection_idle_seconds,
        ),
    )
    metrics.initialise(methods_of(*SERVED_SERVICES))
    workers = [
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
    return Graph(server, workers, uow, writer, analyst, analyzers, cache)
