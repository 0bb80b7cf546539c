"""Spans reach a real OTLP/gRPC receiver, configured by the SDK's standard variables."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.auth import authed_channel, server_settings
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from server.app import Application
from server.auth.keys import ConfigurationError
from server.tracing import export_endpoint, shutdown, tracer_provider
from server.transport.interceptors.tracing import TracingInterceptor
from textlens.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
SERVER = trace_pb2.Span.SPAN_KIND_SERVER
CLIENT = trace_pb2.Span.SPAN_KIND_CLIENT
UNSET = trace_pb2.Status.STATUS_CODE_UNSET
ERROR = trace_pb2.Status.STATUS_CODE_ERROR


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP trace receiver, as a collector runs it."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[tuple[dict[str, Any], trace_pb2.Span]]:
        """Each span with its resource's attributes."""
        return [
            (_attributes(resource_spans.resource.attributes), span)
            for request in self.requests
            for resource_spans in request.resource_spans
            for scope in resource_spans.scope_spans
            for span in scope.spans
        ]


def _attributes(values: Any) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in values}


@pytest.fixture
async def receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "textlens-canary")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test,team=nlp")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    yield receiver
    await server.stop(0)


async def test_calls_are_exported_with_their_parents_status_and_attributes_and_nothing_else(
    receiver: Receiver, tmp_path: Path
) -> None:
    app = Application(
        server_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
            batch_poll_seconds=0.05,
        )
    )
    await app.start()
    try:
        async with authed_channel(app.port) as channel:
            stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
            await stub.CreateAnalysis(
                analysis_service_pb2.CreateAnalysisRequest(
                    text="Exported.", analysis_type=analysis_pb2.ANALYSIS_TYPE_SENTIMENT
                ),
                metadata=(("traceparent", TRACEPARENT),),
            )
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id="an_absent"))
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(3):
                await health.Check(health_pb2.HealthCheckRequest())
        await asyncio.sleep(1.5)  # background polls: batch claims, health pings, gauges
    finally:
        await app.stop(0)  # flushes the exporter
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    spans = receiver.spans()
    resource = spans[0][0]
    assert resource["service.name"] == "textlens-canary"
    assert resource["deployment.environment"] == "test" and resource["team"] == "nlp"
    assert resource["service.version"]
    roots = [span for _, span in spans if span.kind == SERVER]
    assert sorted(span.name for span in roots) == [
        "textlens.v1.AnalysisService/CreateAnalysis",
        "textlens.v1.AnalysisService/GetAnalysis",
    ], "no health, reflection or background spans"
    create = next(span for span in roots if span.name.endswith("CreateAnalysis"))
    assert create.trace_id.hex() == TRACE_ID and create.parent_span_id.hex() == PARENT_ID
    assert _attributes(create.attributes) == {
        "rpc.system": "grpc",
        "rpc.service": "textlens.v1.AnalysisService",
        "rpc.method": "CreateAnalysis",
        "rpc.grpc.status_code": 0,
    }
    assert create.status.code == UNSET
    get = next(span for span in roots if span.name.endswith("GetAnalysis"))
    assert _attributes(get.attributes)["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert get.status.code == UNSET, "a caller's mistake is not a server error"
    others = [span for _, span in spans if span.kind != SERVER]
    assert others and all(span.kind == CLIENT for span in others)
    assert {span.parent_span_id for span in others} <= {create.span_id, get.span_id}
    assert any(span.parent_span_id == create.span_id for span in others)
    assert all("Exported." not in str(span) for _, span in spans), "no texts in spans"


async def test_a_server_fault_is_an_error_span(receiver: Receiver) -> None:
    provider = tracer_provider(None, os.environ)

    async def broken(request: bytes, context: Any) -> bytes:
        raise RuntimeError("a bug")

    server = grpc.aio.server(interceptors=[TracingInterceptor(provider)])
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Broken", {"Call": grpc.unary_unary_rpc_method_handler(broken)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await channel.unary_unary("/test.Broken/Call")(b"")
    finally:
        await server.stop(0)
        await asyncio.to_thread(shutdown, provider)  # flushes, off the receiver's loop
    ((_, span),) = receiver.spans()
    assert span.name == "test.Broken/Call"
    assert span.status.code == ERROR
    assert [event.name for event in span.events] == ["exception"]
    assert "a bug" not in str(span), "exception messages stay out of spans"


@pytest.mark.parametrize(
    ("environ", "endpoint"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, "http://collector:4317"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4317",
            },
            "http://traces:4317",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_SDK_DISABLED": "true"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_TRACES_EXPORTER": "none"}, None),
    ],
)
def test_the_export_endpoint_follows_the_standard_variables(
    environ: dict[str, str], endpoint: str | None
) -> None:
    assert export_endpoint(None, environ) == endpoint


def test_the_textlens_shorthand_yields_to_the_standard_variables() -> None:
    assert export_endpoint("http://short:4317", {}) == "http://short:4317"
    standard = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://std:4317"}
    assert export_endpoint("http://short:4317", standard) == "http://std:4317"


def test_an_otlp_protocol_other_than_grpc_is_refused_at_start() -> None:
    with pytest.raises(ConfigurationError, match="gRPC only"):
        export_endpoint(
            None,
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
        )


async def test_background_work_and_health_are_traced_when_asked(
    receiver: Receiver, tmp_path: Path
) -> None:
    app = Application(
        server_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
            batch_poll_seconds=0.05,
            trace_background=True,
        )
    )
    await app.start()
    try:
        async with authed_channel(app.port) as channel:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        await asyncio.sleep(1.5)
    finally:
        await app.stop(0)
    spans = [span for _, span in receiver.spans()]
    assert "grpc.health.v1.Health/Check" in {s.name for s in spans if s.kind == SERVER}
    background = [s for s in spans if s.kind == CLIENT and not s.parent_span_id]
    assert background, "batch claims and health pings are root spans of their own"
