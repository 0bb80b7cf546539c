"""The server answers health, reflection and unknown methods like a well-behaved gRPC service."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

TEXTLENS_SERVICES = {"textlens.v1.AnalysisService", "textlens.v1.BatchService"}


async def test_health_reports_serving_for_the_server_and_each_service(
    channel: grpc.aio.Channel,
) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", *TEXTLENS_SERVICES):
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service


async def test_health_of_an_unknown_service_is_not_found(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def _list_services(channel: grpc.aio.Channel, method: str) -> set[str]:
    call = channel.stream_stream(
        method,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    responses = [
        response
        async for response in call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    ]
    return {service.name for service in responses[0].list_services_response.service}


@pytest.mark.parametrize(
    "method",
    [
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ],
)
async def test_reflection_lists_both_textlens_services_over_v1alpha_and_v1(
    channel: grpc.aio.Channel, method: str
) -> None:
    services = await _list_services(channel, method)
    assert services >= TEXTLENS_SERVICES
    assert "grpc.health.v1.Health" in services


async def test_reflection_describes_the_analysis_service(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="textlens.v1.AnalysisService"
    )
    responses = [response async for response in stub.ServerReflectionInfo(iter([request]))]
    files = responses[0].file_descriptor_response.file_descriptor_proto
    assert files, responses[0]


async def test_an_unknown_method_is_unimplemented(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary("/textlens.v1.AnalysisService/NoSuchMethod")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(b"")
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_every_call_returns_its_request_id_in_the_trailer(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    call = stub.Check(health_pb2.HealthCheckRequest())
    await call
    trailers = dict(await call.trailing_metadata())
    assert len(trailers["x-request-id"]) == 32


async def test_a_callers_request_id_is_echoed_back(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    call = stub.Check(health_pb2.HealthCheckRequest(), metadata=(("x-request-id", "abc-123"),))
    await call
    assert dict(await call.trailing_metadata())["x-request-id"] == "abc-123"


async def test_an_unsafe_request_id_is_replaced(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    unsafe = "spaces; and {braces} " * 10
    call = stub.Check(health_pb2.HealthCheckRequest(), metadata=(("x-request-id", unsafe),))
    await call
    assert dict(await call.trailing_metadata())["x-request-id"] != unsafe


def status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The rich google.rpc.Status a call failed with."""
    details = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    return status_pb2.Status.FromString(details)


def error_info_of(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    for detail in status_of(error).details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError("no ErrorInfo in the status details")
