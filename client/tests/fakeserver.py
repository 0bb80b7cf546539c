"""A scripted TextLens server on a free port: real gRPC, behaviour chosen by each test."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
from google.protobuf import any_pb2, duration_pb2, empty_pb2
from google.rpc import error_details_pb2, status_pb2

from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_pb2,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

REQUEST_ID = "fake-request-1"


def pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def rich_status(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    *,
    violations: tuple[tuple[str, str, str], ...] = (),
    retry_delay: float | None = None,
) -> status_pb2.Status:
    status = status_pb2.Status(code=code.value[0], message=message)
    status.details.append(pack(error_details_pb2.ErrorInfo(reason=reason, domain="textlens.v1")))
    if violations:
        status.details.append(
            pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=f, description=d, reason=r
                        )
                        for f, d, r in violations
                    ]
                )
            )
        )
    if retry_delay is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(int(retry_delay * 1000))
        status.details.append(pack(error_details_pb2.RetryInfo(retry_delay=delay)))
        status.details.append(pack(error_details_pb2.QuotaFailure()))
    return status


def rate_limited(retry_delay: float = 0.02) -> status_pb2.Status:
    return rich_status(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "rate limit exceeded",
        "RATE_LIMITED",
        retry_delay=retry_delay,
    )


def unavailable() -> status_pb2.Status:
    return rich_status(grpc.StatusCode.UNAVAILABLE, "shutting down", "SHUTTING_DOWN")


async def abort(context: Any, status: status_pb2.Status) -> None:
    code = next(c for c in grpc.StatusCode if c.value[0] == status.code)
    await context.abort(
        code,
        status.message,
        trailing_metadata=(
            ("grpc-status-details-bin", status.SerializeToString()),
            ("x-request-id", REQUEST_ID),
        ),
    )


@dataclass
class Recorded:
    method: str
    request: Any
    metadata: dict[str, str]
    peer: str = ""


@dataclass
class Script:
    """Failures to answer with, per method, before behaving normally."""

    failures: dict[str, deque[status_pb2.Status]] = field(default_factory=dict)
    calls: list[Recorded] = field(default_factory=list)

    def fail(self, method: str, *statuses: status_pb2.Status) -> None:
        self.failures.setdefault(method, deque()).extend(statuses)

    async def enter(self, method: str, request: Any, context: Any) -> None:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        self.calls.append(Recorded(method, request, metadata, context.peer()))
        pending = self.failures.get(method)
        if pending:
            await abort(context, pending.popleft())

    def of(self, method: str) -> list[Recorded]:
        return [c for c in self.calls if c.method == method]


class FakeAnalyses(analysis_service_pb2_grpc.AnalysisServiceServicer):
    def __init__(self, script: Script) -> None:
        self.script = script
        self.stored: dict[str, analysis_pb2.Analysis] = {}
        self._ids = itertools.count(1)
        self.stream_messages: list[int] = []

    def _make(self, text: str, kind: int, request_id: str = "") -> analysis_pb2.Analysis:
        analysis = analysis_pb2.Analysis(
            id=f"a{next(self._ids)}",
            text=text.strip(),
            analysis_type=kind,
            status=analysis_pb2.ANALYSIS_STATUS_COMPLETED,
            request_id=request_id,
        )
        analysis.sentiment.score = 0.5
        analysis.sentiment.label = analysis_pb2.SENTIMENT_LABEL_POSITIVE
        self.stored[analysis.id] = analysis
        return analysis

    async def CreateAnalysis(self, request: Any, context: Any) -> analysis_pb2.Analysis:
        await self.script.enter("CreateAnalysis", request, context)
        if not request.text.strip():
            await abort(
                context,
                rich_status(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "text: must not be empty",
                    "TEXT_EMPTY",
                    violations=(("text", "must not be empty", "TEXT_EMPTY"),),
                ),
            )
        return self._make(request.text, request.analysis_type, request.request_id)

    async def GetAnalysis(self, request: Any, context: Any) -> analysis_pb2.Analysis:
        await self.script.enter("GetAnalysis", request, context)
        if request.id not in self.stored:
            await abort(
                context,
                rich_status(grpc.StatusCode.NOT_FOUND, "not found", "ANALYSIS_NOT_FOUND"),
            )
        return self.stored[request.id]

    def add_batch_result(
        self, batch_id: str, item: int, text: str, *, failed: bool = False
    ) -> analysis_pb2.Analysis:
        analysis = self._make(text, analysis_pb2.ANALYSIS_TYPE_SENTIMENT)
        analysis.batch_id = batch_id
        analysis.batch_item = item
        if failed:
            analysis.ClearField("sentiment")
            analysis.status = analysis_pb2.ANALYSIS_STATUS_FAILED
            analysis.error_message = "the analyzer could not process this text"
        return analysis

    async def ListAnalyses(
        self, request: Any, context: Any
    ) -> analysis_service_pb2.ListAnalysesResponse:
        await self.script.enter("ListAnalyses", request, context)
        items = sorted(self.stored.values(), key=lambda a: int(a.id[1:]))
        if request.batch_id:  # a batch's results, in input order
            items = sorted(
                (a for a in items if a.batch_id == request.batch_id), key=lambda a: a.batch_item
            )
        start = int(request.page_token or 0)
        size = request.page_size or 20
        page = items[start : start + size]
        token = str(start + size) if start + size < len(items) else ""
        return analysis_service_pb2.ListAnalysesResponse(
            analyses=page, next_page_token=token, total_size=len(items)
        )

    async def DeleteAnalysis(self, request: Any, context: Any) -> empty_pb2.Empty:
        await self.script.enter("DeleteAnalysis", request, context)
        self.stored.pop(request.id, None)
        return empty_pb2.Empty()

    async def AnalyzeStream(
        self, request_iterator: Any, context: Any
    ) -> AsyncIterator[analysis_service_pb2.AnalyzeStreamResponse]:
        await self.script.enter("AnalyzeStream", None, context)
        async for request in request_iterator:
            self.stream_messages.append(len(request.items))
            response = analysis_service_pb2.AnalyzeStreamResponse()
            for item in request.items:
                result = response.results.add(ref=item.ref)
                if item.text.strip() and item.text != "!reject":
                    result.analysis.CopyFrom(self._make(item.text, item.analysis_type))
                else:
                    result.error.CopyFrom(
                        rich_status(grpc.StatusCode.INVALID_ARGUMENT, "text: empty", "TEXT_EMPTY")
                    )
            yield response


class FakeBatches(batch_service_pb2_grpc.BatchServiceServicer):
    """WatchBatch sends ``snapshots`` one per call of ``step``; ``break_after`` breaks it."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.progress = 0
        self.total = 3
        self.break_after: deque[int] = deque()
        self.final_status = batch_pb2.BATCH_STATUS_COMPLETED

    def snapshot(self) -> batch_pb2.Batch:
        done = self.progress >= self.total
        return batch_pb2.Batch(
            id="b1",
            analysis_type=analysis_pb2.ANALYSIS_TYPE_SENTIMENT,
            total_count=self.total,
            completed_count=self.progress,
            status=self.final_status if done else batch_pb2.BATCH_STATUS_RUNNING,
        )

    async def ListBatches(
        self, request: Any, context: Any
    ) -> batch_service_pb2.ListBatchesResponse:
        await self.script.enter("ListBatches", request, context)
        return batch_service_pb2.ListBatchesResponse(batches=[self.snapshot()], total_size=1)

    async def GetBatch(self, request: Any, context: Any) -> batch_pb2.Batch:
        await self.script.enter("GetBatch", request, context)
        return self.snapshot()

    async def CancelBatch(self, request: Any, context: Any) -> batch_pb2.Batch:
        await self.script.enter("CancelBatch", request, context)
        return self.snapshot()

    async def WatchBatch(self, request: Any, context: Any) -> AsyncIterator[batch_pb2.Batch]:
        await self.script.enter("WatchBatch", request, context)
        sent = 0
        limit = self.break_after.popleft() if self.break_after else None
        while True:
            yield self.snapshot()
            sent += 1
            if self.progress >= self.total:
                return
            if limit is not None and sent >= limit:
                await abort(context, unavailable())
            self.progress += 1
            await asyncio.sleep(0)


@dataclass
class FakeServer:
    target: str
    script: Script
    analyses: FakeAnalyses
    batches: FakeBatches
    server: grpc.aio.Server


async def start_fake_server(*, ipv6_too: bool = False) -> FakeServer:
    """``ipv6_too``: listen on [::1] as well, on the same port, so that "localhost"
    (which gRPC's resolver turns into both loopback addresses) names two servers."""
    script = Script()
    analyses = FakeAnalyses(script)
    batches = FakeBatches(script)
    server = grpc.aio.server()
    analysis_service_pb2_grpc.add_AnalysisServiceServicer_to_server(analyses, server)
    batch_service_pb2_grpc.add_BatchServiceServicer_to_server(batches, server)
    port = server.add_insecure_port("127.0.0.1:0")
    if ipv6_too:
        server.add_insecure_port(f"[::1]:{port}")
    await server.start()
    return FakeServer(f"127.0.0.1:{port}", script, analyses, batches, server)
