"""structlog configuration: JSON lines off a TTY, short readable lines on one; per-call
context merged in.

No log line may hold a text, a sentence or an SQL parameter, at any level and in either
format. Failures are where they leak: an exception's message can quote a statement's
parameters or a text (an analyzer's bug, a database error), and a traceback that shows
local variables holds every text in scope. So exceptions are rendered here, the same way
for both formats: type, SQLSTATE or errno where there is one, and at most a few frames
(file, line, function), never a message or a local variable. A traceback is logged once:
the same exception logged again is named by the id it was first logged with.

Records of other libraries' standard-library loggers pass through the same rendering,
with their format arguments withheld, and only from WARNING up (SQLAlchemy logs
statements at INFO).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import traceback
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor

MAX_FRAMES = 12
INNERMOST_FRAMES = 3
_OWN = os.sep + "server" + os.sep
MAX_CHAINED = 3
_LOGGED = "__textlens_error_id__"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


# Whether lines are JSON: set by configure_logging, read by announce.
_json_lines = False


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
    *,
    route_native: bool = False,
) -> None:
    """``route_native``: a JSON log to stderr takes in native code's lines too."""
    global _json_lines  # noqa: PLW0603 - one logging configuration per process, like structlog's
    stream = stream or sys.stderr
    console = fmt == "console" or (fmt == "auto" and stream.isatty())
    _json_lines = not console
    if route_native and not console and stream is sys.stderr:
        from server.native_log import route_native_stderr  # noqa: PLC0415 - only for serve

        route_native_stderr()
        stream = sys.stderr
    colours = console and stream.isatty()
    readable: list[Processor] = [
        ReadableCall(colours=colours),
        structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
        structlog.dev.ConsoleRenderer(colors=colours, pad_event_to=0),
    ]
    machine: list[Processor] = [
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.JSONRenderer(),
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _add_pid,
            ExceptionSummary(console=console),
            *(readable if console else machine),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    _route_standard_logging()


def announce(message: str, stream: TextIO, *, level: str = "info", **fields: Any) -> None:
    """A line for the person who started the server (its address, a migration's result, a
    refusal to start): as written, or a JSON line with those words as its event when the log
    is JSON, so that every line a JSON-logging server writes parses."""
    if not _json_lines:
        print(message, file=stream, flush=True)
        return
    line = {
        "event": message,
        **fields,
        "level": level,
        "pid": os.getpid(),
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    print(json.dumps(line), file=stream, flush=True)


_YELLOW, _RED, _RESET = "\x1b[33m", "\x1b[31m", "\x1b[0m"
# What a person at a terminal needs of a call line; JSON keeps every field.
_CALL_FIELDS_DROPPED = ("peer", "request_id", "trace_id", "span_id", "pid", "tenant")


class ReadableCall:
    """Console only: a call's line becomes one short sentence, ``CreateAnalysis OK 2.1 ms``,
    with the reason of a failure and a stream's item counts; failures coloured."""

    def __init__(self, *, colours: bool) -> None:
        self._colours = colours

    def __call__(self, _logger: object, _name: str, event: EventDict) -> EventDict:
        if event.get("event") != "rpc" or "code" not in event:
            return event
        method = str(event.pop("method", "")).rpartition("/")[2] or "?"
        code = event.pop("code")
        text = f"{method} {code} {float(event.pop('duration_ms', 0.0)):.1f} ms"
        if (reason := event.pop("reason", None)) is not None:
            text += f": {reason}"
        if "items_received" in event:
            text += _items(
                event.pop("items_received"), event.pop("items_stored"), event.pop("items_rejected")
            )
        for key in _CALL_FIELDS_DROPPED:
            event.pop(key, None)
        if self._colours and code != "OK":
            text = (_RED if event.get("level") == "error" else _YELLOW) + text + _RESET
        event["event"] = text
        return event


def _items(received: int, stored: int, rejected: Mapping[str, int]) -> str:
    text = f" ({received} items received, {stored} stored"
    if rejected:
        why = ", ".join(f"{count} {reason}" for reason, count in sorted(rejected.items()))
        text += f", {sum(rejected.values())} rejected: {why}"
    return text + ")"


def _add_pid(_logger: object, _name: str, event: EventDict) -> EventDict:
    # Several server processes may share one log stream (TEXTLENS_WORKERS).
    event["pid"] = os.getpid()
    return event


def _exc_info(value: object) -> ExcInfo | None:
    if value is True:
        value = sys.exc_info()
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and value[1] is not None:
        return value
    return None


def _facts(exc: BaseException) -> dict[str, Any]:
    """What can be said of an exception without its message: its type and codes."""
    kind = type(exc)
    facts: dict[str, Any] = {"type": f"{kind.__module__}.{kind.__qualname__}"}
    for holder in (exc, getattr(exc, "orig", None)):
        sqlstate = getattr(holder, "sqlstate", None) or getattr(holder, "pgcode", None)
        if isinstance(sqlstate, str):
            facts["sqlstate"] = sqlstate[:5]
            break
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason.isupper():  # a TextLensError's ErrorReason
        facts["reason"] = reason
    if isinstance(exc, OSError) and exc.errno is not None:
        facts["errno"] = exc.errno
    return facts


def _frames(tb: TracebackType | None) -> list[dict[str, Any]]:
    """The server's own frames and the innermost few (where it failed), at most
    MAX_FRAMES: a database error is a dozen frames deep in its driver."""
    frames = traceback.extract_tb(tb)
    last = len(frames) - INNERMOST_FRAMES
    kept = [f for i, f in enumerate(frames) if i >= last or _OWN in f.filename]
    return [
        {"file": _short(frame.filename), "line": frame.lineno, "function": frame.name}
        for frame in kept[-MAX_FRAMES:]
    ]


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/server/", "/client/"):
        _, found, tail = path.rpartition(marker)
        if found:
            return (marker.strip("/") + "/" if marker != "/site-packages/" else "") + tail
    return os.path.basename(path)


def _chain(exc: BaseException) -> list[BaseException]:
    chain = [exc]
    while len(chain) < MAX_CHAINED:
        cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if cause is None or cause in chain:
            break
        chain.append(cause)
        exc = cause
    return chain


def summarise(exc: BaseException) -> list[dict[str, Any]]:
    """The exception and what caused it, outermost first, without messages or locals; the
    first time, with frames and a new ``error_id``, afterwards a reference to it."""
    logged = getattr(exc, _LOGGED, None)
    if isinstance(logged, str):
        return [{**_facts(exc), "error_id": logged, "traceback": "logged earlier"}]
    error_id = uuid.uuid4().hex[:12]
    with contextlib.suppress(AttributeError, TypeError):  # a type without a __dict__
        setattr(exc, _LOGGED, error_id)
    return [
        {
            **_facts(link),
            "frames": _frames(link.__traceback__),
            **({"error_id": error_id} if not i else {}),
        }
        for i, link in enumerate(_chain(exc))
    ]


def _console(summary: list[dict[str, Any]]) -> str:
    lines = []
    for i, link in enumerate(summary):
        codes = ", ".join(f"{k} {link[k]}" for k in ("sqlstate", "errno", "reason") if k in link)
        head = ("caused by " if i else "") + link["type"] + (f" ({codes})" if codes else "")
        if "error_id" in link:
            head += f" [error_id {link['error_id']}]"
        if "traceback" in link:
            head += f" (traceback {link['traceback']})"
        lines.append(head)
        lines += [
            f"    at {f['file']}:{f['line']} in {f['function']}" for f in link.get("frames", ())
        ]
    lines.append("(exception messages and local variables are not logged)")
    return "\n".join(lines)


class ExceptionSummary:
    """Replaces ``exc_info`` by a bounded summary with no message and no local variable."""

    def __init__(self, *, console: bool) -> None:
        self._console = console

    def __call__(self, _logger: object, _name: str, event: EventDict) -> EventDict:
        info = _exc_info(event.pop("exc_info", None))
        event.pop("exception", None)
        if info is None:
            return event
        summary = summarise(info[1])
        event["exception"] = _console(summary) if self._console else summary
        return event


class _ToStructlog(logging.Handler):
    """Hands other libraries' log records to structlog, without their format arguments
    (which can hold statements' parameters or texts)."""

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, Any] = {"logger": record.name}
        if record.args:
            fields["arguments"] = "withheld"
        if record.exc_info:
            fields["exc_info"] = record.exc_info
        log = structlog.get_logger(record.name)
        log.log(record.levelno, str(record.msg)[:200], **fields)


def _route_standard_logging() -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _ToStructlog):
            root.removeHandler(handler)
    root.addHandler(_ToStructlog())
    root.setLevel(logging.WARNING)
    # Statements and their parameters are logged at INFO; never let them through.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)


def loop_exception_handler(loop: asyncio.AbstractEventLoop, context: Mapping[str, Any]) -> None:
    """asyncio's default handler logs the failed task's repr, exception message included;
    this one logs what asyncio says happened and the exception's summary."""
    exception = context.get("exception")
    log = structlog.get_logger("asyncio")
    message = str(context.get("message", "unhandled error in the event loop"))[:200]
    if isinstance(exception, BaseException):
        log.error(message, exc_info=exception)
    else:
        log.error(message)
