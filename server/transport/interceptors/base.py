"""Base class for interceptors that wrap each call's real work in an async context manager."""

from __future__ import annotations

import abc
import functools
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from server.transport.handlers import wrap_handler

if TYPE_CHECKING:
    ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.aio.ServerInterceptor

Context = grpc.aio.ServicerContext[Any, Any]
STORAGE_SERVICES_PREFIX = "textlens."


@dataclass(frozen=True, slots=True)
class Method:
    """The method a call is for: ``/textlens.v1.AnalysisService/GetAnalysis`` and its parts."""

    path: str
    service: str
    name: str
    kind: str  # unary, client_stream, server_stream or bidi_stream (Prometheus' grpc_type)

    @classmethod
    def of(cls, path: str, handler: grpc.RpcMethodHandler[Any, Any]) -> Method:
        _, _, rest = path.partition("/")
        service, _, name = rest.rpartition("/")
        kind = {
            (False, False): "unary",
            (True, False): "client_stream",
            (False, True): "server_stream",
            (True, True): "bidi_stream",
        }[(bool(handler.request_streaming), bool(handler.response_streaming))]
        return cls(path, service, name, kind)


class ScopeInterceptor(ServerInterceptor, abc.ABC):
    """Runs ``scope(method, context)`` around the behaviour of every call it applies to,
    unary and streaming alike, so that it sees the call's real outcome and duration.

    A method's wrapped handler is made once, on its first call, and reused for as long as
    the handler it wraps stays the same: a call costs the scope, not a new handler.
    """

    # Set on the outermost interceptor only: it counts messages and vets their decoding.
    outermost = False

    def __init__(self) -> None:
        # Method path -> the handler wrapped last and its wrapper. Paths come from the
        # server's registered methods (an unknown method has no handler), so it stays small.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler[Any, Any], Any]] = {}

    def applies_to(self, method: str) -> bool:
        return True

    @abc.abstractmethod
    def scope(self, method: Method, context: Context) -> AbstractAsyncContextManager[None]: ...

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        path: str = handler_call_details.method
        if handler is None or not self.applies_to(path):
            return handler
        known = self._wrapped.get(path)
        if known is not None and known[0] is handler:
            wrapped: grpc.RpcMethodHandler[Any, Any] = known[1]
            return wrapped
        method = Method.of(path, handler)
        wrapped = wrap_handler(
            handler,
            functools.partial(self.scope, method),
            outermost=self.outermost,
            # Only the service's own methods read and write storage; health and reflection
            # have nothing to finish.
            to_completion=method.service.startswith(STORAGE_SERVICES_PREFIX),
        )
        self._wrapped[path] = (handler, wrapped)
        return wrapped
