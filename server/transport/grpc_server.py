"""Builds the grpc.aio server: textlens services, health, and reflection (v1alpha and v1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from server.transport.reflection import DescriptorSetSource
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

# grpc-stubs predates grpc.aio's reflection servicer.
_ReflectionServicer: Any = reflection.aio.ReflectionServicer  # type: ignore[attr-defined]
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
REFLECTION_V1ALPHA: str = reflection.SERVICE_NAME

# Large enough for a full batch of long texts; anything bigger is refused by gRPC
# with RESOURCE_EXHAUSTED before any decoding work.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# A request's metadata (headers, the bearer token among them) up to this size is read,
# and anything larger refused with RESOURCE_EXHAUSTED. gRPC's defaults refuse a random
# share of requests between 8 KiB (soft limit) and 16 KiB (hard limit): the same limit
# for both makes the answer depend on the size alone.
MAX_METADATA_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class Capacity:
    """What any client can make one server process hold (TEXTLENS_* settings)."""

    max_concurrent_rpcs: int
    max_streams_per_connection: int
    stream_window_bytes: int
    connection_idle_seconds: float


def server_options(capacity: Capacity) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_metadata_size", MAX_METADATA_BYTES),
        ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
        # Only this server's own processes share the port (server/ports.py guards it).
        ("grpc.so_reuseport", 1),
        # Memory a client can make the transport buffer: by default each stream's window
        # grows with the measured bandwidth (BDP probing), so a client that sends and
        # never reads had the server accept megabytes per stream. A fixed window per
        # stream, and a cap on streams per connection, bound it.
        ("grpc.http2.bdp_probe", 0),
        ("grpc.http2.lookahead_bytes", capacity.stream_window_bytes),
        ("grpc.max_concurrent_streams", capacity.max_streams_per_connection),
        # Find clients that vanished without closing (a dead peer holds a stream's resources).
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        # Let clients keep idle connections alive with pings every 10 s or more, instead of
        # answering their keepalive with a too_many_pings GOAWAY.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 0),
        # A connection with no call open for this long is asked to go away (clients
        # reconnect when they next call): idle connections cost memory too.
        ("grpc.max_connection_idle_ms", int(capacity.connection_idle_seconds * 1000)),
        # Long-lived connections pin clients to the replicas that existed when they connected:
        # after 10 minutes a connection is asked to go away (its calls run on to their end), so
        # a scale-out or a rollout gets its share of traffic.
        ("grpc.max_connection_age_ms", 600_000),
    ]


def server_credentials(
    cert_file: Path | None, key_file: Path | None, client_ca_file: Path | None
) -> grpc.ServerCredentials | None:
    """TLS credentials, requiring client certificates (mTLS) when a client CA is given."""
    if cert_file is None and key_file is None:
        if client_ca_file is not None:
            raise ValueError(
                "TEXTLENS_TLS_CLIENT_CA_FILE needs TEXTLENS_TLS_CERT_FILE and _KEY_FILE"
            )
        return None
    if cert_file is None or key_file is None:
        raise ValueError("TEXTLENS_TLS_CERT_FILE and TEXTLENS_TLS_KEY_FILE go together")
    client_ca = client_ca_file.read_bytes() if client_ca_file is not None else None
    return grpc.ssl_server_credentials(
        [(key_file.read_bytes(), cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def create_health_server(health_servicer: Any) -> grpc.aio.Server:
    """A plaintext server with grpc.health.v1 only: for probes that cannot speak TLS
    (Kubernetes' native gRPC probes) when the main port requires it."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return server


def create_server(
    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]],
    analysis: AnalysisServicer,
    batches: BatchServicer,
    health_servicer: Any,
    capacity: Capacity,
) -> grpc.aio.Server:
    server = grpc.aio.server(
        interceptors=list(interceptors),
        options=server_options(capacity),
        # Over this many calls at once, a new call is refused with RESOURCE_EXHAUSTED.
        maximum_concurrent_rpcs=capacity.max_concurrent_rpcs,
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
    # Descriptors with their comments, so `grpcurl describe` shows the API reference.
    source = DescriptorSetSource.from_contract(health_pb2.DESCRIPTOR, reflection_pb2.DESCRIPTOR)
    servicer = _ReflectionServicer(names, pool=source)
    # grpcio-reflection serves only v1alpha; v1 has the same messages under
    # another package, so the same servicer answers tools that speak only v1.
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                REFLECTION_V1,
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
