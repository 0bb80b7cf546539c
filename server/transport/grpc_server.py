"""Builds the grpc.aio server: textlens services, health, and reflection (v1alpha and v1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from server.transport.servicers import AnalysisServicer, BatchServicer
from textlens.v1 import (
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

ANALYSIS_SERVICE = analysis_service_pb2.DESCRIPTOR.services_by_name["AnalysisService"].full_name
BATCH_SERVICE = batch_service_pb2.DESCRIPTOR.services_by_name["BatchService"].full_name
TEXTLENS_SERVICES = (ANALYSIS_SERVICE, BATCH_SERVICE)

# grpc-stubs predates grpc.aio's health and reflection servicers.
HealthServicer: Any = health.aio.HealthServicer  # type: ignore[attr-defined]
_ReflectionServicer: Any = reflection.aio.ReflectionServicer  # type: ignore[attr-defined]
_REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"

# Large enough for a full batch of long texts; anything bigger is refused by gRPC
# with RESOURCE_EXHAUSTED before any decoding work.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def create_server(
    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]],
    analysis: AnalysisServicer,
    batches: BatchServicer,
    health_servicer: Any,
) -> grpc.aio.Server:
    server = grpc.aio.server(
        interceptors=list(interceptors),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 1),
        ],
    )
    analysis_service_pb2_grpc.add_AnalysisServiceServicer_to_server(analysis, server)  # type: ignore[no-untyped-call]
    batch_service_pb2_grpc.add_BatchServiceServicer_to_server(batches, server)  # type: ignore[no-untyped-call]
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    _add_reflection(server)
    return server


def _add_reflection(server: grpc.aio.Server) -> None:
    names = (
        *TEXTLENS_SERVICES,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )
    servicer = _ReflectionServicer(names)
    # grpcio-reflection serves only v1alpha; v1 has the same messages under
    # another package, so the same servicer answers tools that speak only v1.
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                _REFLECTION_V1,
                {
                    "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                        servicer.ServerReflectionInfo,
                        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
                    )
                },
            ),
        )
    )
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
