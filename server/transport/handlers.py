"""Wraps an RpcMethodHandler's behaviour in an async context manager, for all four call kinds.

Interceptors built on this wrap the real work of the method (not just the handler
lookup), so that timing, tracing and error mapping cover it, streams included.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc
import grpc.aio

ScopeFactory = Callable[[grpc.aio.ServicerContext[Any, Any]], AbstractAsyncContextManager[None]]


async def _responses(result: Any) -> AsyncIterator[Any]:
    # A streaming behaviour is either an async generator or a coroutine that
    # writes with context.write() and returns None.
    if inspect.isawaitable(result):
        await result
        return
    async for response in result:
        yield response


def wrap_handler(
    handler: grpc.RpcMethodHandler[Any, Any], scope: ScopeFactory
) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler that runs ``handler``'s behaviour inside ``scope(context)``."""
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        unary_unary = handler.unary_unary

        async def unary_unary_behaviour(request: Any, context: Any) -> Any:
            async with scope(context):
                result = unary_unary(request, context)
                return await result if inspect.isawaitable(result) else result

        return grpc.unary_unary_rpc_method_handler(unary_unary_behaviour, **kwargs)
    if handler.unary_stream is not None:
        unary_stream = handler.unary_stream

        async def unary_stream_behaviour(request: Any, context: Any) -> AsyncIterator[Any]:
            async with scope(context):
                async for response in _responses(unary_stream(request, context)):
                    yield response

        return grpc.unary_stream_rpc_method_handler(unary_stream_behaviour, **kwargs)
    if handler.stream_unary is not None:
        stream_unary = handler.stream_unary

        async def stream_unary_behaviour(requests: Any, context: Any) -> Any:
            async with scope(context):
                result = stream_unary(requests, context)
                return await result if inspect.isawaitable(result) else result

        return grpc.stream_unary_rpc_method_handler(stream_unary_behaviour, **kwargs)
    stream_stream = handler.stream_stream
    assert stream_stream is not None

    async def stream_stream_behaviour(requests: Any, context: Any) -> AsyncIterator[Any]:
        async with scope(context):
            async for response in _responses(stream_stream(requests, context)):
                yield response

    return grpc.stream_stream_rpc_method_handler(stream_stream_behaviour, **kwargs)
