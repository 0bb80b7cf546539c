"""grpc.health.v1 messages built in a private descriptor pool.

The client depends only on grpcio, protobuf and grpcio-status, so it cannot import
grpcio-health-checking; a private pool also keeps these definitions from clashing with
that package's when both are loaded in one process.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_FILE = descriptor_pb2.FileDescriptorProto(
    name="textlens/_health/grpc_health_v1.proto",
    package="grpc.health.v1",
    syntax="proto3",
)
_request = _FILE.message_type.add(name="HealthCheckRequest")
_request.field.add(
    name="service",
    number=1,
    type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
)
_response = _FILE.message_type.add(name="HealthCheckResponse")
_status = _response.enum_type.add(name="ServingStatus")
for _number, _name in enumerate(("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")):
    _status.value.add(name=_name, number=_number)
_response.field.add(
    name="status",
    number=1,
    type=descriptor_pb2.FieldDescriptorProto.TYPE_ENUM,
    type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
    label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
)

_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_FILE)

HealthCheckRequest: Any = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName("grpc.health.v1.HealthCheckRequest")
)
HealthCheckResponse: Any = message_factory.GetMessageClass(
    _POOL.FindMessageTypeByName("grpc.health.v1.HealthCheckResponse")
)

CHECK_METHOD = "/grpc.health.v1.Health/Check"
WATCH_METHOD = "/grpc.health.v1.Health/Watch"


def status_name(response: Any) -> str:
    """SERVING, NOT_SERVING, UNKNOWN or SERVICE_UNKNOWN."""
    return str(HealthCheckResponse.ServingStatus.Name(response.status))
