"""Outermost interceptor: request id, canonical log line, and domain error mapping."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
import structlog
from google.rpc import status_pb2

from server.domain.errors import TextLensError
from server.transport.context import CallState, current_call
from server.transport.errors import internal_status_proto, status_code_for, to_status_proto
from server.transport.handlers import wrap_handler

REQUEST_ID_KEY = "x-request-id"
# A caller's own request id is echoed back only if it is short, printable and safe to log.
_CALLER_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
# Probes poll health every few seconds; their lines would drown real traffic at INFO.
_QUIET_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}

log = structlog.get_logger("textlens.rpc")


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
        _STATUS_BY_NUMBER[status.code],
        status.message,
        trailing_metadata=(
            ("grpc-status-details-bin", status.SerializeToString()),
            (REQUEST_ID_KEY, request_id),
        ),
    )


if TYPE_CHECKING:
    ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.aio.ServerInterceptor


class RequestContextInterceptor(ServerInterceptor):
    """Gives each call a request id, maps errors to statuses and logs one line per call."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method: str = handler_call_details.method
        return wrap_handler(handler, lambda context: self._scope(method, context))

    @asynccontextmanager
    async def _scope(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        state = CallState(method=method, request_id=_request_id(context))
        token = current_call.set(state)
        bound = structlog.contextvars.bind_contextvars(request_id=state.request_id, method=method)
        context.set_trailing_metadata(((REQUEST_ID_KEY, state.request_id),))
        # Read now: grpc crashes on peer() once a cancelled call has been torn down.
        peer = context.peer()
        start = time.perf_counter()
        try:
            yield
            state.code = _final_code(context)
        except TextLensError as exc:
            state.code = status_code_for(exc)
            await abort_with_status(context, to_status_proto(exc), state.request_id)
        except grpc.aio.AbortError:
            state.code = _final_code(context)
            raise
        except asyncio.CancelledError:
            state.code = grpc.StatusCode.CANCELLED
            raise
        except Exception:
            state.code = grpc.StatusCode.INTERNAL
            log.exception("unhandled error")
            await abort_with_status(context, internal_status_proto(), state.request_id)
        finally:
            duration_ms = round((time.perf_counter() - start) * 1000, 3)
            emit = log.debug if method.startswith(_QUIET_PREFIXES) else log.info
            emit(
                "rpc",
                code=state.code.name,
                duration_ms=duration_ms,
                tenant=state.tenant,
                peer=peer,
            )
            structlog.contextvars.reset_contextvars(**bound)
            current_call.reset(token)


def _final_code(context: grpc.aio.ServicerContext[Any, Any]) -> grpc.StatusCode:
    code = context.code()
    if code is None:
        return grpc.StatusCode.OK
    if isinstance(code, grpc.StatusCode):
        return code
    # grpc.aio may report a code set by abort() as the C-core integer.
    return _STATUS_BY_NUMBER.get(code, grpc.StatusCode.UNKNOWN)
