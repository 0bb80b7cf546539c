"""Tracing interceptor: one OpenTelemetry server span per call, whatever its kind.

Written on the OpenTelemetry API rather than opentelemetry-instrumentation-grpc: that
package's grpc.aio interceptor iterates streaming behaviours as async generators (ours
write with context.write, see transport.handlers), and ends a cancelled stream's span
only when the garbage collector closes the generator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import grpc.aio
import structlog
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, Status, StatusCode

from server.domain.errors import TextLensError
from server.transport.context import current_call
from server.transport.errors import final_code, status_code_for
from server.transport.interceptors.base import Context, Method, ScopeInterceptor


def _carrier(context: Context) -> dict[str, str]:
    return {
        key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)
    }


# Probes call these every few seconds: traced only when TEXTLENS_TRACE_BACKGROUND asks.
_PROBES = ("/grpc.health.v1.", "/grpc.reflection.")
# OpenTelemetry's RPC conventions: a server span is an error only for these (server
# faults); a caller's mistake (NOT_FOUND, INVALID_ARGUMENT, CANCELLED, ...) is not.
SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


class TracingInterceptor(ScopeInterceptor):
    """A server span per call, continuing the caller's W3C traceparent when it sends one."""

    def __init__(
        self, tracer_provider: trace.TracerProvider | None = None, *, probes: bool = False
    ) -> None:
        super().__init__()
        self._tracer = trace.get_tracer("textlens.grpc", tracer_provider=tracer_provider)
        # Untraced probe calls still get ids for their log lines, from spans never recorded.
        self._probe_tracer = self._tracer
        if not probes and isinstance(tracer_provider, SdkTracerProvider):
            self._probe_tracer = SdkTracerProvider(sampler=ALWAYS_OFF).get_tracer("textlens.grpc")

    @asynccontextmanager
    async def scope(self, method: Method, context: Context) -> AsyncIterator[None]:
        tracer = self._probe_tracer if method.path.startswith(_PROBES) else self._tracer
        with tracer.start_as_current_span(
            f"{method.service}/{method.name}",
            context=propagate.extract(_carrier(context)),
            kind=SpanKind.SERVER,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": method.service,
                "rpc.method": method.name,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            span_context = span.get_span_context()
            if span_context.is_valid:
                trace_id = format(span_context.trace_id, "032x")
                span_id = format(span_context.span_id, "016x")
                structlog.contextvars.bind_contextvars(trace_id=trace_id, span_id=span_id)
                call = current_call.get(None)
                if call is not None:
                    call.trace_id, call.span_id = trace_id, span_id
                    call.trace_sampled = span_context.trace_flags.sampled
            code = grpc.StatusCode.OK
            try:
                yield
                code = final_code(context)
            except TextLensError as exc:
                code = status_code_for(exc)
                raise
            except grpc.aio.AbortError:
                code = final_code(context)
                raise
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except NotImplementedError:
                code = grpc.StatusCode.UNIMPLEMENTED
                raise
            except Exception as exc:
                code = grpc.StatusCode.INTERNAL
                # Its type only: a message may quote a text (record_exception keeps it).
                kind = f"{type(exc).__module__}.{type(exc).__name__}"
                span.add_event("exception", {"exception.type": kind})
                raise
            finally:
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if code in SERVER_FAULTS:
                    span.set_status(Status(StatusCode.ERROR, code.name))
