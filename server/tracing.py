"""OpenTelemetry setup: a tracer provider that exports over OTLP only when configured."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def tracer_provider(otlp_endpoint: str | None) -> TracerProvider:
    """Spans are always created (log lines carry their trace ids); they leave the process
    only when TEXTLENS_OTLP_ENDPOINT names a collector."""
    provider = TracerProvider(resource=Resource.create({"service.name": "textlens"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        insecure = otlp_endpoint.startswith("http://")
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=insecure))
        )
    return provider
