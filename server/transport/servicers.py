"""The textlens.v1 servicers: decode the request, call one use case, encode the result."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import empty_pb2

from server.domain.model import DEFAULT_TENANT
from server.service.analyses import AnalysisUseCases
from server.service.batches import BatchUseCases
from server.service.streaming import MessageOutcome, StreamItem, StreamUseCases
from server.transport import codec
from server.transport.context import CallState, current_call
from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_pb2,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

Context = Any  # grpc.aio.ServicerContext; its stubs predate grpc.aio


def tenant() -> str:
    """The calling tenant, as the auth interceptor established it."""
    call = current_call.get(None)
    return (call.tenant if call is not None else None) or DEFAULT_TENANT


class _Idle(Exception):
    """A stream's client sent nothing, nor half-closed, for the idle timeout."""


class AnalysisServicer(analysis_service_pb2_grpc.AnalysisServiceServicer):
    def __init__(
        self,
        analyses: AnalysisUseCases,
        streams: StreamUseCases,
        *,
        stream_idle_seconds: float = 300.0,
    ) -> None:
        self._analyses = analyses
        self._streams = streams
        self._idle_seconds = stream_idle_seconds

    async def CreateAnalysis(
        self, request: analysis_service_pb2.CreateAnalysisRequest, context: Context
    ) -> analysis_pb2.Analysis:
        created = await self._analyses.create(
            tenant(),
            request.text,
            codec.analysis_type(request.analysis_type),
            request.request_id,
            request.language_code,
        )
        return codec.analysis(created)

    async def GetAnalysis(
        self, request: analysis_service_pb2.GetAnalysisRequest, context: Context
    ) -> analysis_pb2.Analysis:
        return codec.analysis(await self._analyses.get(tenant(), request.id))

    async def ListAnalyses(
        self, request: analysis_service_pb2.ListAnalysesRequest, context: Context
    ) -> analysis_service_pb2.ListAnalysesResponse:
        page = await self._analyses.list(tenant(), codec.analyses_query(request))
        return codec.analyses_page(page)

    async def DeleteAnalysis(
        self, request: analysis_service_pb2.DeleteAnalysisRequest, context: Context
    ) -> empty_pb2.Empty:
        await self._analyses.delete(tenant(), request.id)
        return empty_pb2.Empty()

    async def AnalyzeStream(
        self,
        request_iterator: AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest],
        context: Context,
    ) -> AsyncIterator[analysis_service_pb2.AnalyzeStreamResponse]:
        idle = self._idle_seconds
        call = current_call.get(None) or CallState("", "")
        sizes: deque[int] = deque()  # of the messages not yet answered, in order

        async def messages() -> AsyncIterator[list[StreamItem]]:
            requests = aiter(request_iterator)
            while True:
                try:
                    async with asyncio.timeout(idle):
                        request = await anext(requests)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise _Idle from None
                items = codec.stream_items(request)
                call.items_received += len(items)
                sizes.append(len(items))
                yield items

        async def encode(outcome: MessageOutcome) -> analysis_service_pb2.AnalyzeStreamResponse:
            _tally(call, outcome, sizes.popleft() if sizes else 0)
            return await codec.stream_response_off_loop(outcome)

        try:
            async for answer in self._streams.answer_stream(tenant(), messages(), encode):
                yield answer
        except _Idle:
            # An open stream holds a task, a pipeline and transport windows: one left
            # open and silent is closed, as an idle connection would be.
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"no message for {idle:g} s (TEXTLENS_STREAM_IDLE_SECONDS): stream closed",
            )


def _tally(call: CallState, outcome: MessageOutcome, size: int) -> None:
    """Counts a stream's items for its log line: stored, or rejected by reason."""
    rejected = call.items_rejected
    if not isinstance(outcome, list):  # the whole message was refused
        rejected[outcome.reason.name] = rejected.get(outcome.reason.name, 0) + size
        return
    for item in outcome:
        if item.error is None:
            call.items_stored += 1
        else:
            rejected[item.error.reason.name] = rejected.get(item.error.reason.name, 0) + 1


class BatchServicer(batch_service_pb2_grpc.BatchServiceServicer):
    def __init__(self, batches: BatchUseCases) -> None:
        self._batches = batches

    async def CreateBatch(
        self, request: batch_service_pb2.CreateBatchRequest, context: Context
    ) -> batch_pb2.Batch:
        created = await self._batches.create(
            tenant(),
            request.texts,
            codec.analysis_type(request.analysis_type),
            request.request_id,
            request.language_code,
        )
        return codec.batch(created)

    async def GetBatch(
        self, request: batch_service_pb2.GetBatchRequest, context: Context
    ) -> batch_pb2.Batch:
        return codec.batch(await self._batches.get(tenant(), request.id))

    async def ListBatches(
        self, request: batch_service_pb2.ListBatchesRequest, context: Context
    ) -> batch_service_pb2.ListBatchesResponse:
        page = await self._batches.list(tenant(), codec.batches_query(request))
        return codec.batches_page(page)

    async def CancelBatch(
        self, request: batch_service_pb2.CancelBatchRequest, context: Context
    ) -> batch_pb2.Batch:
        return codec.batch(await self._batches.cancel(tenant(), request.id))

    async def WatchBatch(
        self, request: batch_service_pb2.WatchBatchRequest, context: Context
    ) -> AsyncIterator[batch_pb2.Batch]:
        async for snapshot in self._batches.watch(tenant(), request.id):
            yield codec.batch(snapshot)
