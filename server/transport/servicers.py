"""The textlens.v1 servicers: decode the request, call one use case, encode the result."""

from __future__ import annotations

from typing import Any, NoReturn

from google.protobuf import empty_pb2

from server.domain.errors import NotImplementedYet
from server.domain.model import DEFAULT_TENANT
from server.service.analyses import AnalysisUseCases
from server.transport import codec
from server.transport.context import current_call
from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2_grpc,
)

Context = Any  # grpc.aio.ServicerContext; its stubs predate grpc.aio


def tenant() -> str:
    """The calling tenant, as the auth interceptor established it."""
    call = current_call.get(None)
    return (call.tenant if call is not None else None) or DEFAULT_TENANT


def _not_yet(method: str) -> NoReturn:
    raise NotImplementedYet(f"{method} is not implemented on this server yet")


class AnalysisServicer(analysis_service_pb2_grpc.AnalysisServiceServicer):
    def __init__(self, analyses: AnalysisUseCases) -> None:
        self._analyses = analyses

    async def CreateAnalysis(
        self, request: analysis_service_pb2.CreateAnalysisRequest, context: Context
    ) -> analysis_pb2.Analysis:
        created = await self._analyses.create(
            tenant(), request.text, request.analysis_type, request.request_id
        )
        return codec.analysis(created)

    async def GetAnalysis(
        self, request: analysis_service_pb2.GetAnalysisRequest, context: Context
    ) -> analysis_pb2.Analysis:
        return codec.analysis(await self._analyses.get(tenant(), request.id))

    async def ListAnalyses(
        self, request: analysis_service_pb2.ListAnalysesRequest, context: Context
    ) -> analysis_service_pb2.ListAnalysesResponse:
        page = await self._analyses.list(
            tenant(),
            page_size_value=request.page_size,
            page_token=request.page_token,
            analysis_type=request.analysis_type,
            status=request.status,
            batch_id=request.batch_id,
            order_by=request.order_by,
        )
        return codec.analyses_page(page)

    async def DeleteAnalysis(
        self, request: analysis_service_pb2.DeleteAnalysisRequest, context: Context
    ) -> empty_pb2.Empty:
        await self._analyses.delete(tenant(), request.id)
        return empty_pb2.Empty()

    async def AnalyzeStream(self, request_iterator: Any, context: Context) -> Any:
        _not_yet("textlens.v1.AnalysisService/AnalyzeStream")


class BatchServicer(batch_service_pb2_grpc.BatchServiceServicer):
    async def CreateBatch(self, request: Any, context: Context) -> Any:
        _not_yet("textlens.v1.BatchService/CreateBatch")

    async def GetBatch(self, request: Any, context: Context) -> Any:
        _not_yet("textlens.v1.BatchService/GetBatch")

    async def ListBatches(self, request: Any, context: Context) -> Any:
        _not_yet("textlens.v1.BatchService/ListBatches")

    async def CancelBatch(self, request: Any, context: Context) -> Any:
        _not_yet("textlens.v1.BatchService/CancelBatch")

    async def WatchBatch(self, request: Any, context: Context) -> Any:
        _not_yet("textlens.v1.BatchService/WatchBatch")
