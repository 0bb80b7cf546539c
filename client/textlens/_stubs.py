"""Typed gRPC method handles for textlens.v1 and grpc.health.v1 on one channel.

The generated ``*_pb2_grpc`` stubs are untyped; building the same handles here gives
the client typed requests and responses for mypy, from the same serializers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc.aio
from google.protobuf import empty_pb2

from textlens import _health
from textlens.v1 import analysis_pb2, analysis_service_pb2, batch_pb2, batch_service_pb2

if TYPE_CHECKING:
    from grpc.aio import (
        StreamStreamMultiCallable,
        UnaryStreamMultiCallable,
        UnaryUnaryMultiCallable,
    )

_ANALYSIS = "/textlens.v1.AnalysisService/"
_BATCH = "/textlens.v1.BatchService/"


class Stubs:
    """One handle per method; attributes are named after the client methods."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        a = analysis_service_pb2
        b = batch_service_pb2
        self.create_analysis: UnaryUnaryMultiCallable[
            analysis_service_pb2.CreateAnalysisRequest, analysis_pb2.Analysis
        ] = channel.unary_unary(
            _ANALYSIS + "CreateAnalysis",
            a.CreateAnalysisRequest.SerializeToString,
            analysis_pb2.Analysis.FromString,
        )
        self.get_analysis: UnaryUnaryMultiCallable[
            analysis_service_pb2.GetAnalysisRequest, analysis_pb2.Analysis
        ] = channel.unary_unary(
            _ANALYSIS + "GetAnalysis",
            a.GetAnalysisRequest.SerializeToString,
            analysis_pb2.Analysis.FromString,
        )
        self.list_analyses: UnaryUnaryMultiCallable[
            analysis_service_pb2.ListAnalysesRequest, analysis_service_pb2.ListAnalysesResponse
        ] = channel.unary_unary(
            _ANALYSIS + "ListAnalyses",
            a.ListAnalysesRequest.SerializeToString,
            a.ListAnalysesResponse.FromString,
        )
        self.delete_analysis: UnaryUnaryMultiCallable[
            analysis_service_pb2.DeleteAnalysisRequest, empty_pb2.Empty
        ] = channel.unary_unary(
            _ANALYSIS + "DeleteAnalysis",
            a.DeleteAnalysisRequest.SerializeToString,
            empty_pb2.Empty.FromString,
        )
        self.analyze_stream: StreamStreamMultiCallable[
            analysis_service_pb2.AnalyzeStreamRequest, analysis_service_pb2.AnalyzeStreamResponse
        ] = channel.stream_stream(
            _ANALYSIS + "AnalyzeStream",
            a.AnalyzeStreamRequest.SerializeToString,
            a.AnalyzeStreamResponse.FromString,
        )
        self.create_batch: UnaryUnaryMultiCallable[
            batch_service_pb2.CreateBatchRequest, batch_pb2.Batch
        ] = channel.unary_unary(
            _BATCH + "CreateBatch",
            b.CreateBatchRequest.SerializeToString,
            batch_pb2.Batch.FromString,
        )
        self.get_batch: UnaryUnaryMultiCallable[
            batch_service_pb2.GetBatchRequest, batch_pb2.Batch
        ] = channel.unary_unary(
            _BATCH + "GetBatch", b.GetBatchRequest.SerializeToString, batch_pb2.Batch.FromString
        )
        self.list_batches: UnaryUnaryMultiCallable[
            batch_service_pb2.ListBatchesRequest, batch_service_pb2.ListBatchesResponse
        ] = channel.unary_unary(
            _BATCH + "ListBatches",
            b.ListBatchesRequest.SerializeToString,
            b.ListBatchesResponse.FromString,
        )
        self.cancel_batch: UnaryUnaryMultiCallable[
            batch_service_pb2.CancelBatchRequest, batch_pb2.Batch
        ] = channel.unary_unary(
            _BATCH + "CancelBatch",
            b.CancelBatchRequest.SerializeToString,
            batch_pb2.Batch.FromString,
        )
        self.watch_batch: UnaryStreamMultiCallable[
            batch_service_pb2.WatchBatchRequest, batch_pb2.Batch
        ] = channel.unary_stream(
            _BATCH + "WatchBatch", b.WatchBatchRequest.SerializeToString, batch_pb2.Batch.FromString
        )
        self.health_check: UnaryUnaryMultiCallable[Any, Any] = channel.unary_unary(
            _health.CHECK_METHOD,
            _health.HealthCheckRequest.SerializeToString,
            _health.HealthCheckResponse.FromString,
        )
