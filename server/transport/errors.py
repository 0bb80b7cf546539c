"""The one seam where domain errors become gRPC statuses with rich details."""

from __future__ import annotations

import math
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from server.domain import errors

DOMAIN = "textlens.v1"

# Looked up along the MRO, so a subclass of a mapped error maps like its parent.
_CODES: dict[type[errors.TextLensError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.NotImplementedYet: grpc.StatusCode.UNIMPLEMENTED,
}

# Trailers travel in HTTP/2 headers, which clients cap (8 KiB by default): a batch of
# 10,000 bad texts reports its first violations and the message gives the total.
MAX_REPORTED_VIOLATIONS = 50

INTERNAL_MESSAGE = "internal error; quote the x-request-id trailer when reporting it"


def status_code_for(error: errors.TextLensError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        code = _CODES.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status_proto(error: errors.TextLensError) -> status_pb2.Status:
    """The google.rpc.Status for a domain error: ErrorInfo plus the details its class implies."""
    code = status_code_for(error)
    status = status_pb2.Status(code=code.value[0], message=error.message)
    status.details.append(
        _pack(
            error_details_pb2.ErrorInfo(
                reason=error.reason.value, domain=DOMAIN, metadata=error.metadata
            )
        )
    )
    if isinstance(error, errors.InvalidArgument):
        status.details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description, reason=v.reason.value
                        )
                        for v in error.violations[:MAX_REPORTED_VIOLATIONS]
                    ]
                )
            )
        )
    elif isinstance(error, errors.ResourceExhausted):
        if error.retry_after is not None:
            delay = duration_pb2.Duration()
            # Round up to whole milliseconds: retrying a little late beats too early.
            delay.FromMilliseconds(max(1, math.ceil(error.retry_after * 1000)))
            status.details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
        status.details.append(
            _pack(
                error_details_pb2.QuotaFailure(
                    violations=[
                        error_details_pb2.QuotaFailure.Violation(
                            subject=error.subject, description=_quota_description(error)
                        )
                    ]
                )
            )
        )
    return status


def _quota_description(error: errors.ResourceExhausted) -> str:
    if error.reason is errors.ErrorReason.CONCURRENCY_LIMITED:
        return f"concurrency limit {error.quota}"
    return f"rate limit {error.quota}"


def internal_status_proto() -> status_pb2.Status:
    """INTERNAL with nothing of the failure's internals in it."""
    status = status_pb2.Status(code=code_pb2.INTERNAL, message=INTERNAL_MESSAGE)
    status.details.append(
        _pack(error_details_pb2.ErrorInfo(reason=errors.ErrorReason.INTERNAL.value, domain=DOMAIN))
    )
    return status


STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def final_code(context: Any) -> grpc.StatusCode:
    """The status a call is ending with, as far as its servicer context knows."""
    code = context.code()
    if code is None:
        return grpc.StatusCode.OK
    if isinstance(code, grpc.StatusCode):
        return code
    # grpc.aio may report a code set by abort() as the C-core integer.
    return STATUS_BY_NUMBER.get(code, grpc.StatusCode.UNKNOWN)
