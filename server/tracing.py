"""OpenTelemetry setup from the SDK's standard environment variables.

Spans are always made (log lines carry their trace and span ids); they leave the process
only when an OTLP endpoint is configured: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
OTEL_EXPORTER_OTLP_ENDPOINT, or TEXTLENS_OTLP_ENDPOINT, a shorthand for the first. The
exporter reads the other OTEL_EXPORTER_OTLP_* variables itself (headers, certificates,
compression, timeout); the provider reads OTEL_TRACES_SAMPLER and its argument;
OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the resource's defaults;
OTEL_SDK_DISABLED=true turns tracing off; OTEL_TRACES_EXPORTER=none keeps spans in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from importlib.metadata import version

from opentelemetry import trace
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from server.auth.keys import ConfigurationError

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
# The exporter logs every failed attempt; one line a minute says the same.
EXPORT_FAILURES_EVERY_SECONDS = 60.0


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def export_endpoint(otlp_endpoint: str | None, environ: Mapping[str, str]) -> str | None:
    """Where spans go, or None; refuses OTEL_* settings this server cannot honour."""
    if _true(environ.get("OTEL_SDK_DISABLED")):
        return None
    endpoint = next((environ[name] for name in _ENDPOINTS if environ.get(name)), otlp_endpoint)
    exporters = environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if not endpoint or exporters == "none":
        return None
    if exporters != "otlp":
        raise ConfigurationError(
            f"OTEL_TRACES_EXPORTER={exporters}: this server exports over OTLP only (or none)"
        )
    protocol = next((environ[name] for name in _PROTOCOLS if environ.get(name)), "grpc")
    if protocol.strip() != "grpc":
        raise ConfigurationError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: this server exports OTLP over gRPC only "
            "(grpc); point it at the collector's gRPC port (4317)"
        )
    return endpoint


def tracer_provider(otlp_endpoint: str | None, environ: Mapping[str, str]) -> trace.TracerProvider:
    """The provider for the whole process; ``environ`` holds the OTEL_* variables."""
    if _true(environ.get("OTEL_SDK_DISABLED")):
        return trace.NoOpTracerProvider()
    defaults = Resource.create(
        {"service.name": "textlens", "service.version": version("textlens-server")}
    )
    # Resource.create lets its own arguments win; the specification lets the variables win.
    provider = TracerProvider(resource=defaults.merge(OTELResourceDetector().detect()))
    endpoint = export_endpoint(otlp_endpoint, environ)
    if endpoint is None:
        return provider
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    # The exporter reads the other OTEL_EXPORTER_OTLP_* variables (headers, TLS, timeout).
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    _quiet_export_failures()
    return provider


def shutdown(provider: trace.TracerProvider) -> None:
    if isinstance(provider, TracerProvider):
        provider.shutdown()


class _OncePerInterval(logging.Filter):
    """Lets one record through per interval, saying how many were held back."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self._seconds = seconds
        self._next = 0.0
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now < self._next:
            self._held += 1
            return False
        self._next = now + self._seconds
        # The exporter's arguments are safe to show (endpoint, status code, delay), unlike
        # other libraries' (server.logs withholds those): they become the message.
        record.msg = record.getMessage()
        if self._held:
            record.msg += f" ({self._held} similar lines held back)"
        record.args = ()
        self._held = 0
        return True


def _quiet_export_failures() -> None:
    # The exporter's records reach our structured log through the root logger
    # (server.logs); retries while a collector is down would repeat every second.
    exporter_log = logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter")
    if not any(isinstance(f, _OncePerInterval) for f in exporter_log.filters):
        exporter_log.addFilter(_OncePerInterval(EXPORT_FAILURES_EVERY_SECONDS))
