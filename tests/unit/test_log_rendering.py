"""How failures are logged: no message, no local variable, few frames, once per exception."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from server.logs import MAX_FRAMES, ReadableCall, configure_logging

SECRET = "the Okapi acquisition closes Friday"


def _deep(n: int, text: str) -> None:
    if n:
        _deep(n - 1, text)
    raise ValueError(f"cannot handle {text!r}")


def _fail_with_cause(text: str) -> None:
    try:
        _deep(40, text)
    except ValueError as exc:
        raise RuntimeError(f"while storing {text}") from exc


@pytest.fixture(params=["json", "console"])
def output(request: pytest.FixtureRequest) -> io.StringIO:
    stream = io.StringIO()
    configure_logging("DEBUG", request.param, stream=stream)
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_a_traceback_holds_no_message_no_local_and_few_frames(output: io.StringIO) -> None:
    log = structlog.get_logger("test")
    try:
        _fail_with_cause(SECRET)
    except RuntimeError:
        log.exception("storing failed")
    written = output.getvalue()
    assert "Okapi" not in written and SECRET not in written
    assert "RuntimeError" in written and "ValueError" in written, "types and causes are kept"
    assert written.count("_deep") <= MAX_FRAMES
    assert len(written) < 4_000


def test_the_same_exception_logged_twice_refers_to_its_first_traceback(
    output: io.StringIO,
) -> None:
    log = structlog.get_logger("test")
    error = ValueError(SECRET)
    try:
        raise error
    except ValueError:
        log.error("first caller", exc_info=True)
        log.error("second caller", exc_info=True)
    first, second = output.getvalue().split("second caller")
    assert "error_id" in first and "logged earlier" not in first
    assert "logged earlier" in second
    assert "test_log_rendering" in first and "test_log_rendering" not in second, "no frames"
    assert SECRET not in output.getvalue()


def test_other_libraries_log_without_their_arguments(output: io.StringIO) -> None:
    logging.getLogger("some.library").warning("failed on %s", SECRET)
    logging.getLogger("sqlalchemy.engine").info("INSERT %s", SECRET)
    written = output.getvalue()
    assert "failed on %s" in written and "withheld" in written
    assert "Okapi" not in written
    assert "INSERT" not in written, "SQLAlchemy's statement log stays off"


def test_json_names_each_exception_of_the_chain_and_its_error_id() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        try:
            _fail_with_cause(SECRET)
        except RuntimeError:
            structlog.get_logger("test").exception("storing failed")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    (line,) = stream.getvalue().splitlines()
    chain = json.loads(line)["exception"]
    assert [link["type"] for link in chain] == ["builtins.RuntimeError", "builtins.ValueError"]
    assert chain[0]["error_id"]
    assert all(set(frame) == {"file", "line", "function"} for frame in chain[1]["frames"])


def _call_line(**fields: object) -> dict[str, object]:
    return {
        "event": "rpc",
        "level": "info",
        "method": "/textlens.v1.AnalysisService/GetAnalysis",
        "code": "OK",
        "duration_ms": 1.234,
        "tenant": "acme",
        "peer": "ipv4:127.0.0.1:5000",
        "request_id": "f" * 32,
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "pid": 1,
        **fields,
    }


def test_on_a_console_a_call_is_one_short_line_with_the_reason_of_a_failure() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    try:
        log = structlog.get_logger("textlens.rpc")
        fields = _call_line(code="NOT_FOUND", reason="ANALYSIS_NOT_FOUND")
        log.info(fields.pop("event"), **{k: v for k, v in fields.items() if k != "level"})
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    (line,) = stream.getvalue().splitlines()
    assert line.endswith("GetAnalysis NOT_FOUND 1.2 ms: ANALYSIS_NOT_FOUND")
    assert len(line) < 80
    assert "127.0.0.1" not in line and "f" * 32 not in line


def test_a_stream_line_counts_items_stored_and_rejected_by_reason() -> None:
    event = ReadableCall(colours=False)(
        None,
        "info",
        _call_line(
            method="/textlens.v1.AnalysisService/AnalyzeStream",
            items_received=5000,
            items_stored=994,
            items_rejected={"RATE_LIMITED": 4000, "TEXT_EMPTY": 6},
        ),
    )
    assert event["event"] == (
        "AnalyzeStream OK 1.2 ms (5000 items received, 994 stored, 4006 rejected: "
        "4000 RATE_LIMITED, 6 TEXT_EMPTY)"
    )


def test_failures_are_coloured_client_errors_as_warnings_and_faults_as_errors() -> None:
    readable = ReadableCall(colours=True)
    ok = readable(None, "info", _call_line())["event"]
    client = readable(None, "info", _call_line(code="INVALID_ARGUMENT"))["event"]
    fault = readable(None, "error", _call_line(code="INTERNAL", level="error"))["event"]
    assert "\x1b[" not in ok
    assert client.startswith("\x1b[33m"), "yellow, as warnings are"
    assert fault.startswith("\x1b[31m"), "red, as errors are"


def test_json_call_lines_keep_every_field() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        structlog.get_logger("textlens.rpc").info(
            "rpc", method="/x.Y/Z", code="OK", duration_ms=1.0, peer="p", request_id="r"
        )
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    record = json.loads(stream.getvalue())
    assert {"method", "code", "duration_ms", "peer", "request_id", "pid", "timestamp"} <= set(
        record
    )
