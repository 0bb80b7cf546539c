"""Outermost interceptor: request id, canonical log line, and domain error mapping."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import grpc
import grpc.aio
import structlog
from google.rpc import status_pb2

from server.domain.errors import TextLensError
from server.transport.context import CallState, PeerGone, current_call
from server.transport.errors import (
    STATUS_BY_NUMBER,
    final_code,
    internal_status_proto,
    status_code_for,
    to_status_proto,
)
from server.transport.interceptors.base import Context, Method, ScopeInterceptor

REQUEST_ID_KEY = "x-request-id"
# A caller's own request id is echoed back only if it is short, printable and safe to log.
_CALLER_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
# Probes poll health every few seconds; their lines would drown real traffic at INFO.
_QUIET_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

# Faults of the server (or what it depends on), logged at ERROR; every other code is the
# caller's doing (a bad request, a missing id, a deadline, a cancellation).
ERROR_CODES = frozenset(
    {
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.UNAVAILABLE,
    }
)

log = structlog.get_logger("textlens.rpc")


def _call_details(state: CallState) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if state.reason is not None:
        details["reason"] = state.reason
    if state.items_received:
        details["items_received"] = state.items_received
        details["items_stored"] = state.items_stored
        details["items_rejected"] = dict(state.items_rejected)
    return details


def _request_id(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and _CALLER_REQUEST_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex


async def abort_with_status(
    context: grpc.aio.ServicerContext[Any, Any], status: status_pb2.Status, request_id: str
) -> None:
    """Ends the call with a rich status, keeping the x-request-id trailer."""
    await context.abort(
        STATUS_BY_NUMBER[status.code],
        status.message,
        trailing_metadata=(
            ("grpc-status-details-bin", status.SerializeToString()),
            (REQUEST_ID_KEY, request_id),
        ),
    )


class CallObserver(Protocol):
    """Told of every call as it starts and when it has finished (metrics)."""

    def call_started(self, method: Method) -> None: ...

    def call_finished(self, method: Method, call: CallState, seconds: float) -> None: ...


class RequestContextInterceptor(ScopeInterceptor):
    """Gives each call a request id, maps errors to statuses, and reports each finished
    call once: one log line, and to every observer (metrics)."""

    outermost = True

    def __init__(self, observers: Sequence[CallObserver] = ()) -> None:
        super().__init__()
        self._observers = tuple(observers)

    @asynccontextmanager
    async def scope(self, method: Method, context: Context) -> AsyncIterator[None]:
        state = CallState(method=method.path, request_id=_request_id(context))
        # Each call runs in a context of its own, so nothing set here needs resetting.
        current_call.set(state)
        structlog.contextvars.bind_contextvars(request_id=state.request_id, method=method.path)
        for observer in self._observers:
            observer.call_started(method)
        context.set_trailing_metadata(((REQUEST_ID_KEY, state.request_id),))
        # Read now: grpc crashes on peer() once a cancelled call has been torn down.
        peer = context.peer()
        start = time.perf_counter()
        try:
            yield
            state.code = final_code(context)
        except TextLensError as exc:
            state.code = status_code_for(exc)
            state.reason = exc.reason.name
            await abort_with_status(context, to_status_proto(exc), state.request_id)
        except grpc.aio.AbortError:
            state.code = final_code(context)
            raise
        except asyncio.CancelledError:
            state.code = grpc.StatusCode.CANCELLED
            raise
        except NotImplementedError:
            # A method the contract lists but this server does not serve: the caller's
            # answer is UNIMPLEMENTED, and nothing is wrong with the server.
            state.code = grpc.StatusCode.UNIMPLEMENTED
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{method.path} is not implemented by this server",
                trailing_metadata=((REQUEST_ID_KEY, state.request_id),),
            )
        except PeerGone:
            # The client's doing, not a fault: logged as CANCELLED, at INFO, with no
            # traceback; there is nobody left to send a status to.
            state.code = grpc.StatusCode.CANCELLED
        except Exception:
            state.code = grpc.StatusCode.INTERNAL
            # The tracing scope has ended: its ids are named here, as on the call's line.
            log.exception("unhandled error", trace_id=state.trace_id, span_id=state.span_id)
            await abort_with_status(context, internal_status_proto(), state.request_id)
        finally:
            duration = time.perf_counter() - start
            if state.code in ERROR_CODES:
                emit = log.error
            elif method.path.startswith(_QUIET_PREFIXES):
                emit = log.debug
            else:
                emit = log.info  # a caller's mistake too: nothing is wrong with the server
            emit(
                "rpc",
                code=state.code.name,
                duration_ms=round(duration * 1000, 3),
                tenant=state.tenant,
                peer=peer,
                trace_id=state.trace_id,
                span_id=state.span_id,
                **_call_details(state),
            )
            for observer in self._observers:
                observer.call_finished(method, state, duration)
