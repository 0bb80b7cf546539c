"""The textlens.v1 servicers: decode the request, call one use case, encode the result."""

from __future__ import annotations

from typing import Any, NoReturn

from server.domain.errors import NotImplementedYet
from textlens.v1 import analysis_service_pb2_grpc, batch_service_pb2_grpc


def _not_yet(method: str) -> NoReturn:
    raise NotImplementedYet(f"{method} is not implemented on this server yet")


class AnalysisServicer(analysis_service_pb2_grpc.AnalysisServiceServicer):
    async def CreateAnalysis(self, request: Any, context: Any) -> Any:
        _not_yet("textlens.v1.AnalysisService/CreateAnalysis")

    async def GetAnalysis(self, request: Any, context: Any) -> Any:
        _not_yet("textlens.v1.AnalysisService/GetAnalysis")

    async def ListAnalyses(self, request: Any, context: Any) -> Any:
        _not_yet("textlens.v1.AnalysisService/ListAnalyses")

    async def DeleteAnalysis(self, request: Any, context: Any) -> Any:
        _not_yet("textlens.v1.AnalysisService/DeleteAnalysis")

    async def AnalyzeStream(self, request_iterator: Any, context: Any) -> Any:
        _not_yet("textlens.v1.AnalysisService/AnalyzeStream")


class BatchServicer(batch_service_pb2_grpc.BatchServiceServicer):
    async def CreateBatch(self, request: Any, context: Any) -> Any:
        _not_yet("textlens.v1.BatchService/CreateBatch")

    async def GetBatch(self, request: Any, context: Any) -> Any:
        _not_yet("textlens.v1.BatchService/GetBatch")

    async def ListBatches(self, request: Any, context: Any) -> Any:
        _not_yet("textlens.v1.BatchService/ListBatches")

    async def CancelBatch(self, request: Any, context: Any) -> Any:
        _not_yet("textlens.v1.BatchService/CancelBatch")

    async def WatchBatch(self, request: Any, context: Any) -> Any:
        _not_yet("textlens.v1.BatchService/WatchBatch")
