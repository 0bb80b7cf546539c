"""Wraps an RpcMethodHandler's behaviour in an async context manager, for all four call kinds.

Interceptors built on this wrap the real work of the method (not just the handler
lookup), so that timing, tracing and error mapping cover it, streams included.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import DecodeError

from server.domain.errors import ErrorReason, FieldViolation, InvalidArgument
from server.service.concurrency import run_to_completion
from server.transport.context import PeerGone, current_call

ScopeFactory = Callable[[grpc.aio.ServicerContext[Any, Any]], AbstractAsyncContextManager[None]]


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A request message that failed to parse: answered INVALID_ARGUMENT by the handler
    (grpc would report a deserializer's exception as UNKNOWN, with its internals)."""

    type_name: str


def _safe(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None
    parse = deserializer

    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError:
            owner = getattr(parse, "__self__", None)
            return Undecodable(getattr(owner, "__name__", "request"))

    return deserialize


def _decoded(request: Any) -> Any:
    if isinstance(request, Undecodable):
        raise InvalidArgument(
            [
                FieldViolation(
                    "request",
                    f"is not a valid encoding of {request.type_name} (corrupt bytes, or a "
                    "string that is not UTF-8)",
                    ErrorReason.REQUEST_MALFORMED,
                )
            ]
        )
    return request


def _count(sent: int = 0, received: int = 0) -> None:
    call = current_call.get(None)
    if call is not None:
        call.messages_sent += sent
        call.messages_received += received


async def _checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        _count(received=1)
        yield _decoded(request)


async def _write_all(result: Any, context: Any) -> None:
    """Sends a streaming behaviour's responses with context.write().

    Writing (rather than handing grpc a generator) keeps a cancelled call's cleanup in
    the call's own task: grpc cancels the task while it awaits a write, the generator is
    closed here, and its ``finally`` blocks run at once and in the call's context, not
    later from the garbage collector. A behaviour may also be a coroutine that writes
    for itself (an inner interceptor's wrapper).
    """
    if inspect.isawaitable(result):
        await result
        return
    try:
        async for response in result:
            try:
                await context.write(response)
            except grpc.aio.InternalError as exc:
                # The transport refuses the send: the peer has gone (a cancelled call, a
                # closed connection) before grpc cancelled this task.
                raise PeerGone from exc
            _count(sent=1)
    finally:
        await result.aclose()


# The behaviours made here: an outer wrapper awaits an inner one as it is, and only the
# innermost, the servicer's own, runs to completion.
_OURS: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


async def _unary_result(
    behaviour: Callable[..., Any], request: Any, context: Any, to_completion: bool
) -> Any:
    result = behaviour(request, context)
    if not inspect.isawaitable(result):
        return result
    if behaviour in _OURS or not to_completion:
        return await result
    # A unary call's work is short and may be mid-transaction: a cancelled call
    # finishes it first (see run_to_completion).
    return await run_to_completion(result)


def wrap_handler(
    handler: grpc.RpcMethodHandler[Any, Any],
    scope: ScopeFactory,
    *,
    outermost: bool = False,
    to_completion: bool = True,
) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler that runs ``handler``'s behaviour inside ``scope(context)``. The outermost
    wrapper (``outermost``) also counts messages and answers undecodable requests. A unary
    behaviour that may stop mid-transaction (``to_completion``) finishes even if the call
    is cancelled."""
    kwargs = {
        "request_deserializer": (
            _safe(handler.request_deserializer) if outermost else handler.request_deserializer
        ),
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        unary_unary = handler.unary_unary

        async def unary_unary_behaviour(request: Any, context: Any) -> Any:
            async with scope(context):
                if outermost:
                    _count(received=1)
                    request = _decoded(request)
                response = await _unary_result(unary_unary, request, context, to_completion)
                if outermost:
                    _count(sent=1)
                return response

        _OURS.add(unary_unary_behaviour)
        return grpc.unary_unary_rpc_method_handler(unary_unary_behaviour, **kwargs)
    if handler.unary_stream is not None:
        unary_stream = handler.unary_stream

        async def unary_stream_behaviour(request: Any, context: Any) -> None:
            async with scope(context):
                if outermost:
                    _count(received=1)
                    request = _decoded(request)
                await _write_all(unary_stream(request, context), context)

        return grpc.unary_stream_rpc_method_handler(unary_stream_behaviour, **kwargs)
    if handler.stream_unary is not None:
        stream_unary = handler.stream_unary

        async def stream_unary_behaviour(requests: Any, context: Any) -> Any:
            async with scope(context):
                if outermost:
                    requests = _checked(requests)
                response = await _unary_result(stream_unary, requests, context, to_completion)
                if outermost:
                    _count(sent=1)
                return response

        _OURS.add(stream_unary_behaviour)
        return grpc.stream_unary_rpc_method_handler(stream_unary_behaviour, **kwargs)
    stream_stream = handler.stream_stream
    assert stream_stream is not None

    async def stream_stream_behaviour(requests: Any, context: Any) -> None:
        async with scope(context):
            if outermost:
                requests = _checked(requests)
            await _write_all(stream_stream(requests, context), context)

    return grpc.stream_stream_rpc_method_handler(stream_stream_behaviour, **kwargs)
