"""Logs, traces and metrics for every call, in the documented interceptor order."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.auth import authed_channel, make_token, server_settings
from helpers.deploy import tool
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from server.app import Application
from server.logs import configure_logging
from server.transport.interceptors.request_context import RequestContextInterceptor
from server.transport.interceptors.tracing import TracingInterceptor
from server.transport.metrics import GO_CODE_NAMES, PrometheusMetrics, build_version
from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class Observed:
    def __init__(self, app: Application, spans: InMemorySpanExporter, log: io.StringIO) -> None:
        self.app = app
        self.spans = spans
        self.log = log

    def server_spans(self, name: str) -> list[ReadableSpan]:
        return [
            s
            for s in self.spans.get_finished_spans()
            if s.kind == SpanKind.SERVER and s.name.endswith(name)
        ]

    def log_lines(self) -> list[dict[str, Any]]:
        return [
            json.loads(line) for line in self.log.getvalue().splitlines() if line.startswith("{")
        ]

    def metrics(self, accept: str = "text/plain") -> str:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.app.metrics_port}/metrics", headers={"Accept": accept}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(response.read().decode())


@pytest.fixture(scope="module")
async def observed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Observed]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    log = io.StringIO()
    configure_logging("INFO", "json", stream=log)
    db = tmp_path_factory.mktemp("observed") / "db.sqlite"
    app = Application(
        server_settings(
            database_url=f"sqlite+aiosqlite:///{db}", metrics_port=0, batch_poll_seconds=0.1
        ),
        tracer_provider=provider,
    )
    await app.start()
    yield Observed(app, exporter, log)
    await app.stop(0)
    structlog.reset_defaults()


async def test_a_unary_call_has_a_server_span_continuing_the_callers_trace_with_db_children(
    observed: Observed,
) -> None:
    async with authed_channel(observed.app.port) as channel:
        await analysis_service_pb2_grpc.AnalysisServiceStub(channel).CreateAnalysis(
            analysis_service_pb2.CreateAnalysisRequest(text="Traced.", analysis_type=SENTIMENT),
            metadata=(("traceparent", TRACEPARENT),),
        )
    span = observed.server_spans("CreateAnalysis")[-1]
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert span.parent is not None and format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    assert span.attributes is not None
    assert span.attributes["rpc.system"] == "grpc"
    assert span.attributes["rpc.service"] == "textlens.v1.AnalysisService"
    assert span.attributes["rpc.method"] == "CreateAnalysis"
    assert span.attributes["rpc.grpc.status_code"] == 0
    children = [
        s
        for s in observed.spans.get_finished_spans()
        if s.parent is not None and s.parent.span_id == span.context.span_id
    ]
    assert children, "database statements appear as child spans"
    assert all(
        c.kind == SpanKind.CLIENT and c.attributes["db.system"] == "sqlite" for c in children
    )  # type: ignore[index]
    assert any(c.attributes["db.operation"] == "INSERT" for c in children)  # type: ignore[index]
    assert all("Traced." not in str(c.attributes) for c in children), "no texts in spans"


async def test_log_lines_carry_the_trace_id(observed: Observed) -> None:
    async with authed_channel(observed.app.port) as channel:
        call = analysis_service_pb2_grpc.AnalysisServiceStub(channel).ListAnalyses(
            analysis_service_pb2.ListAnalysesRequest(), metadata=(("traceparent", TRACEPARENT),)
        )
        await call
        request_id = dict(await call.trailing_metadata())["x-request-id"]
    line = next(r for r in observed.log_lines() if r.get("request_id") == request_id)
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert line["tenant"] == "tenant-a"


async def test_streaming_calls_are_traced_and_end_when_the_stream_ends(
    observed: Observed,
) -> None:
    async with authed_channel(observed.app.port) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        request = analysis_service_pb2.AnalyzeStreamRequest(
            items=[
                analysis_service_pb2.AnalyzeStreamItem(ref="1", text="Hi.", analysis_type=SENTIMENT)
            ]
        )
        _ = [r async for r in stub.AnalyzeStream(iter([request, request]))]
        batches = batch_service_pb2_grpc.BatchServiceStub(channel)
        batch = await batches.CreateBatch(
            batch_service_pb2.CreateBatchRequest(texts=["One."], analysis_type=SENTIMENT)
        )
        _ = [s async for s in batches.WatchBatch(batch_service_pb2.WatchBatchRequest(id=batch.id))]
    assert observed.server_spans("AnalyzeStream")[-1].attributes["rpc.grpc.status_code"] == 0  # type: ignore[index]
    assert observed.server_spans("WatchBatch")[-1].attributes["rpc.grpc.status_code"] == 0  # type: ignore[index]


async def test_a_cancelled_stream_ends_its_span_as_cancelled_not_as_an_error(
    observed: Observed,
) -> None:
    async with authed_channel(observed.app.port) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)

        async def endless() -> AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest]:
            while True:
                yield analysis_service_pb2.AnalyzeStreamRequest(
                    items=[
                        analysis_service_pb2.AnalyzeStreamItem(
                            ref="r", text="Again.", analysis_type=SENTIMENT
                        )
                    ]
                )
                await asyncio.sleep(0.01)

        before = len(observed.server_spans("AnalyzeStream"))
        call = stub.AnalyzeStream(endless())
        await call.read()
        call.cancel()
    for _ in range(100):
        if len(observed.server_spans("AnalyzeStream")) > before:
            break
        await asyncio.sleep(0.05)
    span = observed.server_spans("AnalyzeStream")[-1]
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]  # type: ignore[index]
    assert span.status.status_code == StatusCode.UNSET


async def test_a_call_refused_by_auth_is_still_logged_traced_and_counted(
    observed: Observed,
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{observed.app.port}") as channel:
        call = analysis_service_pb2_grpc.AnalysisServiceStub(channel).GetAnalysis(
            analysis_service_pb2.GetAnalysisRequest(id="x")
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    request_id = dict(caught.value.trailing_metadata() or ())["x-request-id"]
    line = next(r for r in observed.log_lines() if r.get("request_id") == request_id)
    assert line["code"] == "UNAUTHENTICATED"
    span = observed.server_spans("GetAnalysis")[-1]
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]  # type: ignore[index]
    assert (
        'grpc_server_handled_total{grpc_code="Unauthenticated",grpc_method="GetAnalysis",'
        'grpc_service="textlens.v1.AnalysisService",grpc_type="unary"}'
    ) in observed.metrics()


async def test_metrics_are_served_over_http(observed: Observed) -> None:
    async with authed_channel(observed.app.port, make_token("metered")) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        await stub.CreateAnalysis(
            analysis_service_pb2.CreateAnalysisRequest(text="Count me.", analysis_type=SENTIMENT)
        )
        request = analysis_service_pb2.AnalyzeStreamRequest(
            items=[
                analysis_service_pb2.AnalyzeStreamItem(
                    ref=str(i), text="Me too.", analysis_type=SENTIMENT
                )
                for i in range(3)
            ]
        )
        _ = [r async for r in stub.AnalyzeStream(iter([request] * 4))]
    text = observed.metrics()
    labels = (
        'grpc_method="AnalyzeStream",grpc_service="textlens.v1.AnalysisService",'
        'grpc_type="bidi_stream"'
    )
    assert f"grpc_server_started_total{{{labels}}}" in text
    assert f"grpc_server_msg_received_total{{{labels}}}" in text
    assert f"grpc_server_msg_sent_total{{{labels}}}" in text
    assert "grpc_server_handling_seconds_bucket{" in text
    assert 'textlens_analyses_total{analysis_type="SENTIMENT",status="COMPLETED"}' in text
    assert "textlens_batch_items_pending " in text
    received = _value(text, f"grpc_server_msg_received_total{{{labels}}}")
    sent = _value(text, f"grpc_server_msg_sent_total{{{labels}}}")
    assert received >= 4 and sent >= 4


def _value(text: str, series: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(series + " "))
    return float(line.rsplit(" ", 1)[1])


async def test_a_client_streaming_call_goes_through_the_same_interceptors() -> None:
    """The contract has no client-streaming RPC; a stand-in method checks the fourth kind."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = PrometheusMetrics()

    async def count(requests: AsyncIterator[bytes], context: Any) -> bytes:
        return str(len([r async for r in requests])).encode()

    server = grpc.aio.server(
        interceptors=[RequestContextInterceptor([metrics]), TracingInterceptor(provider)]
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Counter", {"Count": grpc.stream_unary_rpc_method_handler(count)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            result = await channel.stream_unary("/test.Counter/Count")(iter([b"a", b"b", b"c"]))
    finally:
        await server.stop(0)
    assert result == b"3"
    (span,) = exporter.get_finished_spans()
    assert span.name == "test.Counter/Count"
    labels = ("client_stream", "test.Counter", "Count")
    assert metrics.received.labels(*labels)._value.get() == 3
    assert metrics.handled.labels(*labels, "OK")._value.get() == 1


async def test_status_codes_are_labelled_as_go_grpc_prometheus_writes_them(
    observed: Observed,
) -> None:
    async with authed_channel(observed.app.port) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id="an_absent"))
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest(page_size=-1))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    labels = 'grpc_service="textlens.v1.AnalysisService",grpc_type="unary"'
    not_found = (
        f'grpc_server_handled_total{{grpc_code="NotFound",grpc_method="GetAnalysis",{labels}}}'
    )
    invalid_argument = (
        f'grpc_server_handled_total{{grpc_code="InvalidArgument",grpc_method="ListAnalyses",'
        f"{labels}}}"
    )
    # A call is counted once its status is sent, which its caller may see first.
    for _ in range(50):
        text = observed.metrics()
        if _value(text, not_found) >= 1 and _value(text, invalid_argument) >= 1:
            break
        await asyncio.sleep(0.05)
    assert _value(text, not_found) >= 1 and _value(text, invalid_argument) >= 1
    assert "NOT_FOUND" not in text and "INVALID_ARGUMENT" not in text


async def test_every_method_has_a_series_for_every_code_before_its_first_call(
    observed: Observed,
) -> None:
    text = observed.metrics()
    for service, method, kind in (
        ("textlens.v1.BatchService", "CancelBatch", "unary"),
        ("textlens.v1.BatchService", "WatchBatch", "server_stream"),
        ("grpc.health.v1.Health", "Watch", "server_stream"),
    ):
        labels = f'grpc_method="{method}",grpc_service="{service}",grpc_type="{kind}"'
        for code in GO_CODE_NAMES.values():
            assert f'grpc_server_handled_total{{grpc_code="{code}",{labels}}}' in text
        assert f"grpc_server_started_total{{{labels}}}" in text
        assert f'grpc_server_handling_seconds_bucket{{{labels},le="+Inf"}}' in text
    assert (
        _value(
            text,
            'grpc_server_handled_total{grpc_code="DataLoss",grpc_method="CancelBatch",'
            'grpc_service="textlens.v1.BatchService",grpc_type="unary"}',
        )
        == 0
    )


async def test_process_python_and_build_info_series_are_served(observed: Observed) -> None:
    text = observed.metrics()
    assert _value(text, f'textlens_build_info{{version="{build_version()}"}}') == 1
    assert _value(text, "process_resident_memory_bytes") > 0
    assert _value(text, "process_cpu_seconds_total") > 0
    assert "python_info{" in text
    assert "python_gc_collections_total{" in text


async def test_openmetrics_scrapes_carry_the_trace_id_of_a_call_as_an_exemplar(
    observed: Observed,
) -> None:
    async with authed_channel(observed.app.port) as channel:
        call = analysis_service_pb2_grpc.AnalysisServiceStub(channel).ListAnalyses(
            analysis_service_pb2.ListAnalysesRequest(page_size=1),
            metadata=(("traceparent", TRACEPARENT),),
        )
        await call
    text = observed.metrics(OPENMETRICS)
    bucket = 'grpc_server_handling_seconds_bucket{grpc_method="ListAnalyses"'
    lines = [line for line in text.splitlines() if line.startswith(bucket)]
    assert any('# {trace_id="0af7651916cd43dd8448eb211c80319c"}' in line for line in lines)
    assert "# {" not in observed.metrics(), "the classic text format has no exemplars"


async def test_promtool_accepts_a_scrape(observed: Observed) -> None:
    # promtool reads the classic text format (OpenMetrics is checked by the exemplar test).
    result = await asyncio.to_thread(
        subprocess.run,
        [tool("promtool"), "check", "metrics"],
        input=observed.metrics(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


async def test_an_unhandled_error_is_logged_with_the_calls_trace_and_span_ids(
    observed: Observed,
) -> None:
    provider = TracerProvider()

    async def broken(request: bytes, context: Any) -> bytes:
        raise RuntimeError("a bug")

    server = grpc.aio.server(
        interceptors=[RequestContextInterceptor(), TracingInterceptor(provider)]
    )
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
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await channel.unary_unary("/test.Broken/Call")(
                    b"", metadata=(("traceparent", TRACEPARENT),)
                )
    finally:
        await server.stop(0)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    request_id = dict(caught.value.trailing_metadata() or ())["x-request-id"]
    lines = [r for r in observed.log_lines() if r.get("request_id") == request_id]
    assert [(r["event"], r["level"]) for r in lines] == [
        ("unhandled error", "error"),
        ("rpc", "error"),
    ], "a server fault is logged at ERROR"
    for line in lines:
        assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
        assert len(line["span_id"]) == 16


async def test_health_list_answers_every_services_status(observed: Observed) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{observed.app.port}") as channel:
        answer = await health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest())
    serving = health_pb2.HealthCheckResponse.SERVING
    assert {name: s.status for name, s in answer.statuses.items()} == {
        "": serving,
        "textlens.v1.AnalysisService": serving,
        "textlens.v1.BatchService": serving,
    }


async def test_a_method_that_is_not_implemented_answers_unimplemented_logged_at_info(
    observed: Observed,
) -> None:
    async def missing(request: bytes, context: Any) -> bytes:
        raise NotImplementedError

    server = grpc.aio.server(interceptors=[RequestContextInterceptor()])
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Partial", {"Later": grpc.unary_unary_rpc_method_handler(missing)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await channel.unary_unary("/test.Partial/Later")(b"")
        request_id = dict(caught.value.trailing_metadata() or ())["x-request-id"]
        # The call's line is written as the call ends, which may be just after the client
        # has its status: wait for it before stopping the server.
        for _ in range(100):
            lines = [r for r in observed.log_lines() if r.get("request_id") == request_id]
            if lines:
                break
            await asyncio.sleep(0.05)
    finally:
        await server.stop(0)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert [(r["event"], r["level"], r["code"]) for r in lines] == [
        ("rpc", "info", "UNIMPLEMENTED")
    ]


async def test_a_stream_logs_its_items_received_stored_and_rejected_by_reason(
    observed: Observed,
) -> None:
    async with authed_channel(observed.app.port) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        request = analysis_service_pb2.AnalyzeStreamRequest(
            items=[
                analysis_service_pb2.AnalyzeStreamItem(ref="a", text="Fine.", analysis_type=1),
                analysis_service_pb2.AnalyzeStreamItem(ref="b", text="  ", analysis_type=1),
                analysis_service_pb2.AnalyzeStreamItem(ref="c", text="Also fine.", analysis_type=1),
            ]
        )
        call = stub.AnalyzeStream(iter([request, request]))
        _ = [r async for r in call]
        request_id = dict(await call.trailing_metadata())["x-request-id"]
    (line,) = [r for r in observed.log_lines() if r.get("request_id") == request_id]
    assert line["code"] == "OK"
    assert (line["items_received"], line["items_stored"]) == (6, 4)
    assert line["items_rejected"] == {"TEXT_EMPTY": 2}


async def test_batches_log_when_created_completed_and_cancelled_with_counts(
    observed: Observed,
) -> None:
    async with authed_channel(observed.app.port) as channel:
        batches = batch_service_pb2_grpc.BatchServiceStub(channel)
        done = await batches.CreateBatch(
            batch_service_pb2.CreateBatchRequest(texts=["One.", "Two."], analysis_type=SENTIMENT)
        )
        _ = [s async for s in batches.WatchBatch(batch_service_pb2.WatchBatchRequest(id=done.id))]
        large = await batches.CreateBatch(
            batch_service_pb2.CreateBatchRequest(
                texts=[f"Text number {i}." for i in range(5000)], analysis_type=SENTIMENT
            )
        )
        await batches.CancelBatch(batch_service_pb2.CancelBatchRequest(id=large.id))
    events = {(r["event"], r["batch_id"]): r for r in observed.log_lines() if "batch_id" in r}
    assert events["batch created", done.id]["total"] == 2
    completed = events["batch completed", done.id]
    assert (completed["total"], completed["completed"], completed["failed"]) == (2, 2, 0)
    assert events["batch created", large.id]["total"] == 5000
    cancelled = events["batch cancelled", large.id]
    assert cancelled["total"] == 5000 and cancelled["completed"] < 5000
    assert not any("Text number" in line for line in observed.log.getvalue().splitlines())


async def test_no_exemplars_when_traces_are_not_exported(tmp_path: Path) -> None:
    app = Application(
        server_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", metrics_port=0
        ),
        environ={},
    )
    await app.start()
    try:
        async with authed_channel(app.port) as channel:
            await analysis_service_pb2_grpc.AnalysisServiceStub(channel).ListAnalyses(
                analysis_service_pb2.ListAnalysesRequest(), metadata=(("traceparent", TRACEPARENT),)
            )
        scrape = Observed(app, InMemorySpanExporter(), io.StringIO()).metrics(OPENMETRICS)
    finally:
        await app.stop(0)
    assert 'grpc_method="ListAnalyses"' in scrape
    assert "# {" not in scrape, "a trace id that no collector holds leads nowhere"
