"""gRPC failures become typed TextLensErrors carrying everything the server said."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest
from fakeserver import rate_limited, rich_status
from google.rpc import status_pb2

import textlens
from textlens import _errors

ALL_CODES = [code for code in grpc.StatusCode if code is not grpc.StatusCode.OK]


def rpc_error(
    code: grpc.StatusCode,
    details: str = "it failed",
    status: status_pb2.Status | None = None,
    request_id: str | None = "req-42",
) -> grpc.aio.AioRpcError:
    trailers: list[tuple[str, str | bytes]] = []
    if status is not None:
        trailers.append(("grpc-status-details-bin", status.SerializeToString()))
    if request_id is not None:
        trailers.append(("x-request-id", request_id))
    return grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailers), details=details
    )


@pytest.mark.parametrize("code", ALL_CODES, ids=lambda c: c.name)
def test_each_status_code_has_its_own_class_under_the_common_base(code: grpc.StatusCode) -> None:
    error = _errors.translate(rpc_error(code))
    assert isinstance(error, textlens.TextLensError)
    assert error.code is code
    assert type(error) is _errors.error_class(code)
    assert type(error).__name__.lower().replace("_", "") in code.name.lower().replace("_", "")


def test_all_status_classes_are_distinct() -> None:
    classes = {_errors.error_class(code) for code in ALL_CODES}
    assert len(classes) == len(ALL_CODES)


def test_invalid_argument_carries_reason_violations_and_request_id() -> None:
    status = rich_status(
        grpc.StatusCode.INVALID_ARGUMENT,
        "text: must not be empty (and 1 more invalid fields)",
        "TEXT_EMPTY",
        violations=(
            ("text", "must not be empty", "TEXT_EMPTY"),
            ("analysis_type", "must be set", "ANALYSIS_TYPE_MISSING"),
        ),
    )
    error = _errors.translate(rpc_error(grpc.StatusCode.INVALID_ARGUMENT, status.message, status))
    assert isinstance(error, textlens.InvalidArgument)
    assert error.reason == "TEXT_EMPTY"
    assert error.request_id == "req-42"
    assert error.message == status.message
    assert [(v.field, v.reason) for v in error.field_violations] == [
        ("text", "TEXT_EMPTY"),
        ("analysis_type", "ANALYSIS_TYPE_MISSING"),
    ]
    assert error.status == status
    assert error.retry_delay is None


def test_resource_exhausted_carries_the_retry_delay() -> None:
    status = rate_limited(retry_delay=1.5)
    error = _errors.translate(rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, status=status))
    assert isinstance(error, textlens.ResourceExhausted)
    assert error.retry_delay == 1.5
    assert error.reason == "RATE_LIMITED"


def test_a_failure_without_rich_details_still_maps_by_code() -> None:
    error = _errors.translate(
        rpc_error(grpc.StatusCode.UNAVAILABLE, "Connection refused", request_id=None)
    )
    assert isinstance(error, textlens.Unavailable)
    assert (error.reason, error.request_id, error.field_violations) == (None, None, ())
    assert error.message == "Connection refused"


def test_details_for_another_code_are_ignored() -> None:
    status = rich_status(grpc.StatusCode.NOT_FOUND, "nope", "ANALYSIS_NOT_FOUND")
    error = _errors.translate(rpc_error(grpc.StatusCode.INTERNAL, "boom", status))
    assert isinstance(error, textlens.Internal)
    assert error.reason is None


def test_garbage_in_the_details_trailer_does_not_hide_the_error() -> None:
    raw = grpc.aio.AioRpcError(
        grpc.StatusCode.INTERNAL,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(("grpc-status-details-bin", b"\xff\xff\xff")),
        details="boom",
    )
    error = _errors.translate(raw)
    assert isinstance(error, textlens.Internal)
    assert error.message == "boom"


def test_rpc_errors_raises_the_mapped_error_from_the_original() -> None:
    original = rpc_error(grpc.StatusCode.NOT_FOUND)
    with pytest.raises(textlens.NotFound) as caught, _errors.rpc_errors():
        raise original
    assert caught.value.__cause__ is original


def test_rpc_errors_lets_other_exceptions_through() -> None:
    with pytest.raises(KeyError), _errors.rpc_errors():
        raise KeyError("x")


def test_str_is_one_line_with_code_message_reason_and_request_id() -> None:
    status = rich_status(grpc.StatusCode.NOT_FOUND, "analysis 'x' not found", "ANALYSIS_NOT_FOUND")
    error = _errors.translate(rpc_error(grpc.StatusCode.NOT_FOUND, status.message, status))
    assert str(error) == (
        "NOT_FOUND: analysis 'x' not found (reason ANALYSIS_NOT_FOUND, request id req-42)"
    )


def test_to_dict_is_json_ready() -> None:
    status = rate_limited(retry_delay=0.25)
    error = _errors.translate(rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", status))
    assert error.to_dict() == {
        "code": "RESOURCE_EXHAUSTED",
        "message": "slow down",
        "reason": "RATE_LIMITED",
        "retry_delay": 0.25,
        "request_id": "req-42",
    }


def test_from_status_builds_the_same_classes_for_stream_item_errors() -> None:
    error = _errors.from_status(
        rich_status(grpc.StatusCode.INVALID_ARGUMENT, "text: empty", "TEXT_EMPTY")
    )
    assert isinstance(error, textlens.InvalidArgument)
    assert error.reason == "TEXT_EMPTY"


def test_the_docstring_tree_names_every_error_class() -> None:
    tree = _errors.__doc__ or ""
    for name in textlens.__all__:
        obj = getattr(textlens, name)
        if isinstance(obj, type) and issubclass(obj, textlens.TextLensError):
            assert f"── {name} " in tree or name == "TextLensError", name
