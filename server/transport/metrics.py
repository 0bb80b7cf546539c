"""Prometheus metrics: gRPC call figures as go-grpc-prometheus writes them, and TextLens figures.

Each Application has its own registry, served on TEXTLENS_METRICS_PORT at /metrics. Under
several server processes each child writes its figures to PROMETHEUS_MULTIPROC_DIR and the
supervisor serves them combined (``combined_registry``).
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any
from wsgiref.simple_server import WSGIServer

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

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
# Status codes as Go's codes.Code.String() writes them, which go-grpc-prometheus uses as
# grpc_code values: dashboards and alerts written for Go services match ours.
GO_CODE_NAMES = {
    code: "".join(part.capitalize() for part in code.name.split("_")) for code in grpc.StatusCode
}
GO_CODE_NAMES[grpc.StatusCode.OK] = "OK"
GO_CODE_NAMES[grpc.StatusCode.CANCELLED] = "Canceled"


def go_code(code: grpc.StatusCode) -> str:
    return GO_CODE_NAMES[code]


def methods_of(*services: ServiceDescriptor) -> list[Method]:
    """Every method of the given services, as the interceptors name them."""
    kinds = {
        (False, False): "unary",
        (True, False): "client_stream",
        (False, True): "server_stream",
        (True, True): "bidi_stream",
    }
    return [
        Method(
            f"/{service.full_name}/{m.name}",
            service.full_name,
            m.name,
            kinds[(bool(m.client_streaming), bool(m.server_streaming))],
        )
        for service in services
        for m in service.methods
    ]


GC_FLUSH_SECONDS = 2.0


def _count_collections(registry: CollectorRegistry) -> None:
    """python_gc_* for a process whose figures the supervisor adds up from files:
    GCCollector reads gc.get_stats() when scraped, which cannot be done from another
    process, so collections are counted as they happen."""
    names = {
        "collected": ("python_gc_objects_collected", "Objects collected during gc"),
        "uncollectable": (
            "python_gc_objects_uncollectable",
            "Uncollectable objects found during GC",
        ),
        "collections": ("python_gc_collections", "Number of times this generation was collected"),
    }
    counters = {
        key: Counter(name, text, ("generation",), registry=registry)
        for key, (name, text) in names.items()
    }
    for generation, stats in enumerate(gc.get_stats()):  # those before this point
        for key, counter in counters.items():
            counter.labels(str(generation)).inc(stats[key])

    # A collection can start in any thread at any allocation, also while prometheus_client
    # holds its (non-reentrant) lock on the files: the callback only adds to plain ints,
    # and a thread of its own moves them into the counters.
    pending: dict[tuple[str, str], int] = {}

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            generation = str(info["generation"])
            for key, n in (("collections", 1), ("collected", info["collected"]),
                           ("uncollectable", info["uncollectable"])):  # fmt: skip
                pending[key, generation] = pending.get((key, generation), 0) + n

    def flush() -> None:
        while True:
            time.sleep(GC_FLUSH_SECONDS)
            for key, generation in list(pending):
                if n := pending.pop((key, generation), 0):
                    counters[key].labels(generation).inc(n)

    gc.callbacks.append(count)
    threading.Thread(target=flush, name="gc-metrics", daemon=True).start()


def build_version() -> str:
    return version("textlens-server")


def _multiprocess() -> bool:
    # prometheus_client itself switches on this variable (the supervisor sets it).
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


@dataclass(frozen=True, slots=True)
class _Series:
    """One method's labelled call series."""

    started: Any
    handling: Any
    received: Any
    sent: Any


class PrometheusMetrics:
    def __init__(
        self, registry: CollectorRegistry | None = None, *, exemplars: bool = True
    ) -> None:
        # Go's client has no *_created series; they would double the series per call.
        disable_created_metrics()  # type: ignore[no-untyped-call]
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
        self.build_info = Gauge(
            "textlens_build_info",
            "Always 1; the version of the running server.",
            ("version",),
            registry=r,
            multiprocess_mode="max",
        )
        self.build_info.labels(build_version()).set(1)
        if not _multiprocess():
            # One process: its own figures. Several: the supervisor serves the group's
            # (server.metrics_processes), as these cannot be combined from files...
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        else:
            _count_collections(r)  # ...except these, counted here and summed there
        # A trace id is worth its cost (about 6 µs a call) only if the trace leaves the process.
        self._exemplars = exemplars
        self._server: WSGIServer | None = None
        # Each method's series (and each method and code's), looked up by labels once:
        # a call then costs the increments, not five label lookups.
        self._series: dict[Method, _Series] = {}
        self._handled: dict[tuple[Method, str], Any] = {}

    def _of(self, method: Method) -> _Series:
        series = self._series.get(method)
        if series is None:
            labels = (method.kind, method.service, method.name)
            series = self._series[method] = _Series(
                self.started.labels(*labels),
                self.handling.labels(*labels),
                self.received.labels(*labels),
                self.sent.labels(*labels),
            )
        return series

    def initialise(self, methods: Iterable[Method]) -> None:
        """Creates every call series at zero, as go-grpc-prometheus' InitializeMetrics does:
        the first error of a kind then shows in rate() and increase()."""
        for method in methods:
            labels = (method.kind, method.service, method.name)
            self.started.labels(*labels)
            self.handling.labels(*labels)
            self.received.labels(*labels)
            self.sent.labels(*labels)
            for code in GO_CODE_NAMES.values():
                self.handled.labels(*labels, code)

    def call_started(self, method: Method) -> None:
        self._of(method).started.inc()

    def call_finished(self, method: Method, call: CallState, seconds: float) -> None:
        series = self._of(method)
        code = go_code(call.code)
        handled = self._handled.get((method, code))
        if handled is None:
            labels = (method.kind, method.service, method.name, code)
            handled = self._handled[method, code] = self.handled.labels(*labels)
        handled.inc()
        # Served only in the OpenMetrics format, and only for traces that are exported.
        exemplar = (
            {"trace_id": call.trace_id}
            if self._exemplars and call.trace_id and call.trace_sampled
            else None
        )
        series.handling.observe(seconds, exemplar)
        if call.messages_received:
            series.received.inc(call.messages_received)
        if call.messages_sent:
            series.sent.inc(call.messages_sent)

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
