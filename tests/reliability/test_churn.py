"""A thousand calls cut short at random points leak no task, session, span or memory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
from collections.abc import AsyncIterator

import grpc
import grpc.aio
import psutil
import pytest
from helpers.auth import authed_channel, make_token, server_settings
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

from server.app import Application
from server.memory import release_free_memory
from textlens.v1 import (
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

pytestmark = pytest.mark.slow

CUTS = 1_000


class OpenSpans(SpanProcessor):
    """Counts spans started and not yet ended."""

    def __init__(self) -> None:
        self.open = 0
        self.started = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.open += 1
        self.started += 1

    def on_end(self, span: ReadableSpan) -> None:
        self.open -= 1


def _call_tasks() -> set[str]:
    return {
        task.get_name()
        for task in asyncio.all_tasks()
        if task.get_name().startswith(("rpc_task", "HandleExceptions[", "textlens-stream"))
    }


def item(i: int) -> analysis_service_pb2.AnalyzeStreamRequest:
    return analysis_service_pb2.AnalyzeStreamRequest(
        items=[
            analysis_service_pb2.AnalyzeStreamItem(
                ref=f"{i}-{j}", text=f"Churn {i} {j}.", analysis_type=1
            )
            for j in range(5)
        ]
    )


async def _endless() -> AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest]:
    i = 0
    while True:
        yield item(i)
        i += 1
        await asyncio.sleep(0)


async def _cut(app: Application, rng: random.Random, batch_id: str) -> None:
    kind = rng.randrange(5)
    if kind == 4:  # a client that connects, sends half a request and hangs up
        reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
        writer.write(
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
            + bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        )
        await writer.drain()
        writer.transport.abort()  # RST, no goodbye
        del reader
        return
    tenant = "tenant-a" if kind == 2 else f"churn-{rng.randrange(4)}"  # the batch's owner
    channel = authed_channel(app.port, make_token(tenant))
    try:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        if kind == 0:  # a deadline that expires at a random point of a unary call
            with contextlib.suppress(grpc.aio.AioRpcError):
                await stub.CreateAnalysis(
                    analysis_service_pb2.CreateAnalysisRequest(text="Cut short.", analysis_type=1),
                    timeout=rng.uniform(0.0005, 0.02),
                )
        elif kind == 1:  # a stream cancelled after a random number of answers
            call = stub.AnalyzeStream(_endless())
            for _ in range(rng.randrange(4)):
                await call.read()
            call.cancel()
        elif kind == 2:  # a watch abandoned by closing the connection under it
            watch = batch_service_pb2_grpc.BatchServiceStub(channel).WatchBatch(
                batch_service_pb2.WatchBatchRequest(id=batch_id)
            )
            await watch.read()
            await channel.close(grace=None)
        else:  # a stream whose connection drops mid-flight
            call = stub.AnalyzeStream(_endless())
            await call.read()
            await asyncio.sleep(rng.uniform(0, 0.01))
            await channel.close(grace=None)
    finally:
        await channel.close(grace=None)


async def test_a_thousand_cut_calls_leave_nothing_behind(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    spans = OpenSpans()
    provider = TracerProvider()
    provider.add_span_processor(spans)
    db = tmp_path_factory.mktemp("churn") / "db.sqlite"
    app = Application(
        server_settings(database_url=f"sqlite+aiosqlite:///{db}", batch_workers=0),
        tracer_provider=provider,
    )
    await app.start()
    process = psutil.Process()
    rng = random.Random(20261126)
    try:
        async with authed_channel(app.port) as channel:
            batch = await batch_service_pb2_grpc.BatchServiceStub(channel).CreateBatch(
                batch_service_pb2.CreateBatchRequest(texts=["Never processed."], analysis_type=1)
            )
        rss: list[int] = []
        for round_ in range(CUTS // 50):
            await asyncio.gather(*(_cut(app, rng, batch.id) for _ in range(50)))
            if round_ in (3, CUTS // 50 - 1):
                gc.collect()
                await asyncio.sleep(0.5)
                release_free_memory()  # count what is held, not what the heap keeps spare
                rss.append(process.memory_info().rss)
        for _ in range(200):
            if not _call_tasks() and spans.open == 0 and app.engine.pool.checkedout() == 0:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.05)
        leaked_tasks = _call_tasks()
        open_spans = spans.open
        sessions = app.engine.pool.checkedout()  # type: ignore[attr-defined]
        async with authed_channel(app.port) as channel:  # and it still serves
            await analysis_service_pb2_grpc.AnalysisServiceStub(channel).ListAnalyses(
                analysis_service_pb2.ListAnalysesRequest()
            )
    finally:
        await app.stop(0)
    growth = (rss[1] - rss[0]) / 2**20
    with capsys.disabled():
        print(
            f"\n{CUTS} cut calls: {spans.started} spans, open afterwards {open_spans}; "
            f"call tasks left {len(leaked_tasks)}; sessions checked out {sessions}; "
            f"RSS growth from call 200 to {CUTS}: {growth:.1f} MiB"
        )
    assert leaked_tasks == set()
    assert open_spans == 0
    assert sessions == 0
    assert growth < 25, "memory should stay flat once warm"
