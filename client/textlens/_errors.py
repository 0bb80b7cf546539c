"""The client's exception tree and the one seam where gRPC failures become it.

TextLensError                 every failure of a call; .code, .message, .reason, .request_id
├── Cancelled                 CANCELLED: the call was cancelled
├── Unknown                   UNKNOWN
├── InvalidArgument           INVALID_ARGUMENT: .field_violations name each bad field
├── DeadlineExceeded          DEADLINE_EXCEEDED: the call's timeout ran out
├── NotFound                  NOT_FOUND: no such analysis or batch for this caller
├── AlreadyExists             ALREADY_EXISTS: a request_id reused with another payload
├── PermissionDenied          PERMISSION_DENIED: the token lacks a scope
├── ResourceExhausted         RESOURCE_EXHAUSTED: rate limited; .retry_delay says when to retry
├── FailedPrecondition        FAILED_PRECONDITION: e.g. cancelling a finished batch
├── Aborted                   ABORTED
├── OutOfRange                OUT_OF_RANGE
├── Unimplemented             UNIMPLEMENTED: the server does not offer the method
├── Internal                  INTERNAL: quote .request_id when reporting it
├── Unavailable               UNAVAILABLE: server down, draining, or its database is;
│                             .unreachable when no connection could be made at all
├── DataLoss                  DATA_LOSS
├── Unauthenticated           UNAUTHENTICATED: no token, or a bad or expired one
└── ProtocolError             the server answered in a way the contract rules out

``translate`` (and ``rpc_errors``, the context manager around every call) is the
only place a ``grpc.RpcError`` becomes one of these, always chained with
``raise ... from exc``; ``from_status`` builds the same classes from a
``google.rpc.Status`` carried inside a message (an AnalyzeStream item's error).

A call that never reached a server fails in gRPC with UNAVAILABLE and a message such as
``failed to connect to all addresses; last error: UNKNOWN: ipv6:%5B::1%5D:50052: Failed
to connect to remote host: Connection refused``. ``translate`` rewrites it as
``cannot reach TextLens at localhost:50052 (connection refused)``, naming the target as
the caller wrote it, and marks the error ``unreachable``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

DOMAIN = "textlens.v1"
DETAILS_KEY = "grpc-status-details-bin"
REQUEST_ID_KEY = "x-request-id"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid request field: its path (``texts[3]``), what is wrong, and the reason."""

    field: str
    description: str
    reason: str = ""


class TextLensError(Exception):
    """Base of every error a TextLens call raises."""

    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        request_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        retry_delay: float | None = None,
        status: status_pb2.Status | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: ErrorInfo.reason, an ErrorReason name without its prefix ("TEXT_TOO_LONG").
        self.reason = reason
        #: The x-request-id trailer: the id of this call in the server's logs.
        self.request_id = request_id
        #: ErrorInfo.metadata, e.g. {"max_chars": "10000"} or {"required_scope": ...}.
        self.metadata: dict[str, str] = dict(metadata or {})
        self.field_violations = tuple(field_violations)
        #: RetryInfo.retry_delay in seconds, when the server said when to retry.
        self.retry_delay = retry_delay
        #: The full google.rpc.Status, when the server sent one.
        self.status = status
        #: How many attempts the client made before giving up.
        self.attempts = 1

    def __str__(self) -> str:
        extras = []
        if self.reason:
            extras.append(f"reason {self.reason}")
        if self.request_id:
            extras.append(f"request id {self.request_id}")
        if self.attempts > 1:
            extras.append(f"after {self.attempts} attempts")
        suffix = f" ({', '.join(extras)})" if extras else ""
        return f"{self.code.name}: {self.message}{suffix}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, reason={self.reason!r})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary, as the command line prints it."""
        out: dict[str, Any] = {"code": self.code.name, "message": self.message}
        if self.reason:
            out["reason"] = self.reason
        if self.field_violations:
            out["field_violations"] = [
                {"field": v.field, "description": v.description, "reason": v.reason}
                for v in self.field_violations
            ]
        if self.retry_delay is not None:
            out["retry_delay"] = self.retry_delay
        if self.request_id:
            out["request_id"] = self.request_id
        return out


class Cancelled(TextLensError):
    code = grpc.StatusCode.CANCELLED


class Unknown(TextLensError):
    code = grpc.StatusCode.UNKNOWN


class InvalidArgument(TextLensError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(TextLensError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(TextLensError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(TextLensError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(TextLensError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(TextLensError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(TextLensError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(TextLensError):
    code = grpc.StatusCode.ABORTED


class OutOfRange(TextLensError):
    code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(TextLensError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(TextLensError):
    code = grpc.StatusCode.INTERNAL


class Unavailable(TextLensError):
    code = grpc.StatusCode.UNAVAILABLE

    #: True when no connection to the server could be made (refused, unknown host,
    #: unreachable network); False when a server answered UNAVAILABLE itself.
    unreachable: bool = False


class DataLoss(TextLensError):
    code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(TextLensError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ProtocolError(TextLensError):
    """The server broke the contract, e.g. a stream response with the wrong number of results."""

    code = grpc.StatusCode.INTERNAL


_BY_CODE: dict[grpc.StatusCode, type[TextLensError]] = {
    cls.code: cls
    for cls in (
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
}
_CODE_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def error_class(code: grpc.StatusCode) -> type[TextLensError]:
    """The exception class for a status code (Unknown for OK or anything unexpected)."""
    return _BY_CODE.get(code, Unknown)


def from_status(
    status: status_pb2.Status, *, request_id: str | None = None, message: str | None = None
) -> TextLensError:
    """The exception a google.rpc.Status stands for, with its rich details unpacked."""
    code = _CODE_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
    reason: str | None = None
    metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    retry_delay: float | None = None
    for packed in status.details:
        # Unpack answers False for a detail of another type.
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        retry = error_details_pb2.RetryInfo()
        if packed.Unpack(info):
            reason = info.reason or None
            metadata = dict(info.metadata)
        elif packed.Unpack(bad):
            violations.extend(
                FieldViolation(v.field, v.description, v.reason) for v in bad.field_violations
            )
        elif packed.Unpack(retry):
            retry_delay = retry.retry_delay.ToTimedelta().total_seconds()
    return error_class(code)(
        message if message is not None else status.message,
        reason=reason,
        request_id=request_id,
        metadata=metadata,
        field_violations=violations,
        retry_delay=retry_delay,
        status=status,
    )


def _trailers(error: grpc.RpcError) -> dict[str, str | bytes]:
    call: Any = error
    try:
        metadata = call.trailing_metadata()
    except (AttributeError, ValueError):
        return {}
    return {key: value for key, value in (metadata or ())}


# gRPC's wording when a call found no connection: every address failed, or the name
# did not resolve. The cause is the text after the last address in it.
_NO_CONNECTION = re.compile(
    r"^(failed to connect to all addresses|connections to all backends failing"
    r"|errors resolving|DNS resolution failed)"
)
_CAUSES = (
    ("connection refused", "connection refused"),
    ("domain name not found", "host not found"),
    ("name or service not known", "host not found"),
    ("could not resolve", "host not found"),
    ("dns resolution failed", "host not found"),
    ("failed to parse port", "invalid port"),
    ("network is unreachable", "network unreachable"),
    ("no route to host", "no route to host"),
    ("no such file or directory", "no such socket"),
    ("timed out", "connection timed out"),
    ("timeout occurred", "connection timed out"),
    ("deadline exceeded", "connection timed out"),
    ("handshake", "TLS handshake failed"),
    ("ssl", "TLS handshake failed"),
    ("socket closed", "connection closed by the peer"),
    ("connection reset", "connection closed by the peer"),
)
_RESOLVING = re.compile(r"^errors resolving (\S+?):? ")
_ADDRESS = re.compile(r"\b(?:ipv4|ipv6|unix|unix-abstract):(\S+?):? ")


def _cause(details: str) -> str:
    lowered = details.lower()
    for needle, cause in _CAUSES:
        if needle in lowered:
            return cause
    return details.rsplit(": ", 1)[-1].strip() or "no connection"


def _address(details: str) -> str | None:
    """The address gRPC names in its message, unquoted: ``[::1]:50052``."""
    found = _ADDRESS.search(details) or _RESOLVING.search(details)
    return urllib.parse.unquote(found.group(1)) if found else None


def unreachable(details: str, target: str | None) -> Unavailable | None:
    """The clear error for gRPC's "could not connect" message, or None for any other."""
    if not _NO_CONNECTION.match(details):
        return None
    where = target or _address(details) or "the target"
    error = Unavailable(f"cannot reach TextLens at {where} ({_cause(details)})")
    error.unreachable = True
    return error


def translate(error: grpc.RpcError, target: str | None = None) -> TextLensError:
    """The TextLensError for a failed call; the caller raises it ``from error``.

    ``target`` is the address as the caller wrote it, used to name the server in a
    connection failure.
    """
    call: Any = error
    code = call.code() if callable(getattr(call, "code", None)) else grpc.StatusCode.UNKNOWN
    details = call.details() if callable(getattr(call, "details", None)) else None
    message = details or code.name.lower().replace("_", " ")
    trailers = _trailers(error)
    if code == grpc.StatusCode.UNAVAILABLE and details and not trailers:
        clear = unreachable(details, target)
        if clear is not None:
            return clear
    request_id = trailers.get(REQUEST_ID_KEY)
    if isinstance(request_id, bytes):
        request_id = request_id.decode("utf-8", "replace")
    raw = trailers.get(DETAILS_KEY)
    if isinstance(raw, bytes):
        try:
            status = status_pb2.Status.FromString(raw)
        except DecodeError:
            status = None
        # A status whose code disagrees with the call's was not meant for this call.
        if status is not None and status.code == code.value[0]:
            return from_status(status, request_id=request_id, message=message)
    return error_class(code)(message, request_id=request_id)


@contextmanager
def rpc_errors(target: str | None = None) -> Iterator[None]:
    """Turns a ``grpc.RpcError`` raised inside the block into its TextLensError."""
    try:
        yield
    except grpc.RpcError as exc:
        raise translate(exc, target) from exc
