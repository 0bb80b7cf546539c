"""Domain errors become google.rpc.Status values with the details a caller can act on."""

from __future__ import annotations

from typing import TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2

from server.domain import errors
from server.transport.errors import internal_status_proto, status_code_for, to_status_proto

M = TypeVar("M", bound=Message)


def _unpack(details: list[any_pb2.Any], cls: type[M]) -> M:
    for detail in details:
        if detail.Is(cls.DESCRIPTOR):
            message = cls()
            detail.Unpack(message)
            return message
    raise AssertionError(f"no {cls.__name__} in details")


def test_invalid_argument_carries_error_info_and_every_field_violation() -> None:
    error = errors.InvalidArgument(
        [
            errors.FieldViolation("texts[0]", "must not be empty", errors.ErrorReason.TEXT_EMPTY),
            errors.FieldViolation("texts[3]", "too long", errors.ErrorReason.TEXT_TOO_LONG),
        ]
    )
    status = to_status_proto(error)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert "texts[0]" in status.message
    info = _unpack(list(status.details), error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == ("TEXT_EMPTY", "textlens.v1")
    bad = _unpack(list(status.details), error_details_pb2.BadRequest)
    assert [(v.field, v.reason) for v in bad.field_violations] == [
        ("texts[0]", "TEXT_EMPTY"),
        ("texts[3]", "TEXT_TOO_LONG"),
    ]


def test_rate_limiting_carries_retry_info_and_quota_failure() -> None:
    error = errors.ResourceExhausted(
        "rate limit exceeded", retry_after=1.2345, subject="tenant:acme", quota="100/minute"
    )
    status = to_status_proto(error)
    assert status.code == code_pb2.RESOURCE_EXHAUSTED
    retry = _unpack(list(status.details), error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToMilliseconds() == 1235
    quota = _unpack(list(status.details), error_details_pb2.QuotaFailure)
    assert quota.violations[0].subject == "tenant:acme"


def test_each_error_class_maps_to_its_own_status_code() -> None:
    cases = {
        errors.NotFound("x"): grpc.StatusCode.NOT_FOUND,
        errors.AlreadyExists("x"): grpc.StatusCode.ALREADY_EXISTS,
        errors.FailedPrecondition("x"): grpc.StatusCode.FAILED_PRECONDITION,
        errors.Unauthenticated("x"): grpc.StatusCode.UNAUTHENTICATED,
        errors.PermissionDenied("x"): grpc.StatusCode.PERMISSION_DENIED,
        errors.Unavailable("x"): grpc.StatusCode.UNAVAILABLE,
        errors.NotImplementedYet("x"): grpc.StatusCode.UNIMPLEMENTED,
    }
    for error, code in cases.items():
        assert status_code_for(error) == code


def test_internal_errors_say_nothing_of_their_cause() -> None:
    status = internal_status_proto()
    assert status.code == code_pb2.INTERNAL
    assert "x-request-id" in status.message
    info = _unpack(list(status.details), error_details_pb2.ErrorInfo)
    assert info.reason == "INTERNAL"
