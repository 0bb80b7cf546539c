"""Prometheus metrics: gRPC call figures (go-grpc-prometheus names) and TextLens figures.

Each Application has its own registry, served on TEXTLENS_METRICS_PORT at /metrics.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from server.domain.model import Analysis
from server.transport.context import CallState
from server.transport.interceptors.base import Method

_CALL_LABELS = ("grpc_type", "grpc_service", "grpc_method")
# From a cached short text (well under a millisecond) to a long batch stream (minutes).
_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.started = Counter(
            "grpc_server_started", "Calls started on the server.", _CALL_LABELS, registry=r
        )
        self.handled = Counter(
            "grpc_server_handled",
            "Calls completed on the server, by status code.",
            (*_CALL_LABELS, "grpc_code"),
            registry=r,
        )
        self.handling = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of a call to its end, in seconds.",
            _CALL_LABELS,
            buckets=_BUCKETS,
            registry=r,
        )
        self.received = Counter(
            "grpc_server_msg_received", "Messages received by the server.", _CALL_LABELS, registry=r
        )
        self.sent = Counter(
            "grpc_server_msg_sent", "Messages sent by the server.", _CALL_LABELS, registry=r
        )
        self.analyses = Counter(
            "textlens_analyses",
            "Analyses stored, by type and status (unary, streamed and batch).",
            ("analysis_type", "status"),
            registry=r,
        )
        self.pending = Gauge(
            "textlens_batch_items_pending",
            "Batch items not yet analysed (pending or claimed), across all replicas.",
            registry=r,
            multiprocess_mode="max",  # every process reads the same shared queue
        )
        self.cache = Counter(
            "textlens_result_cache_lookups",
            "Result-cache lookups, by outcome (hit or miss).",
            ("outcome",),
            registry=r,
        )
        self._server: WSGIServer | None = None

    def call_started(self, method: Method) -> None:
        self.started.labels(method.kind, method.service, method.name).inc()

    def call_finished(self, method: Method, call: CallState, seconds: float) -> None:
        labels = (method.kind, method.service, method.name)
        self.handled.labels(*labels, call.code.name).inc()
        self.handling.labels(*labels).observe(seconds)
        if call.messages_received:
            self.received.labels(*labels).inc(call.messages_received)
        if call.messages_sent:
            self.sent.labels(*labels).inc(call.messages_sent)

    def analyses_stored(self, analyses: Sequence[Analysis]) -> None:
        counts = Tally((a.analysis_type.name, a.status.name) for a in analyses)
        for labels, count in counts.items():
            self.analyses.labels(*labels).inc(count)

    def cache_lookups(self, *, hits: int, misses: int) -> None:
        if hits:
            self.cache.labels("hit").inc(hits)
        if misses:
            self.cache.labels("miss").inc(misses)

    def serve(self, host: str, port: int) -> int:
        """Serves /metrics on a thread; returns the bound port."""
        self._server, _ = start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
