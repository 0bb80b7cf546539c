"""Small helpers to call the server with the generated stubs and read rich errors."""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
import grpc.aio
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

M = TypeVar("M", bound=Message)


def rich_status(error: grpc.aio.AioRpcError | grpc.RpcError) -> status_pb2.Status:
    """The google.rpc.Status the call failed with (from grpc-status-details-bin)."""
    metadata: Any = error.trailing_metadata()
    trailers = dict(metadata or ())
    return status_pb2.Status.FromString(trailers["grpc-status-details-bin"])


def detail(status: status_pb2.Status, cls: type[M]) -> M:
    for packed in status.details:
        if packed.TypeName() == cls.DESCRIPTOR.full_name:
            message = cls()
            packed.Unpack(message)
            return message
    raise AssertionError(f"no {cls.__name__} in the status details")


def reason(error: grpc.aio.AioRpcError) -> str:
    info = detail(rich_status(error), error_details_pb2.ErrorInfo)
    assert info.domain == "textlens.v1"
    return info.reason


def violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    bad = detail(rich_status(error), error_details_pb2.BadRequest)
    return [(v.field, v.reason) for v in bad.field_violations]
