"""Caps open long-lived calls (streams, watches) in this server process: each tenant's,
and those anybody may open without a token (reflection).

A stream or a watch holds transport windows, a pipeline of messages and a task for as
long as it is open, whatever the rate limit says: without a cap, one tenant's open calls,
or a stranger's, could take the memory and the server-wide call budget everyone needs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from server.config import Settings
from server.domain.errors import ErrorReason, ResourceExhausted
from server.domain.model import DEFAULT_TENANT
from server.transport.context import current_call
from server.transport.grpc_server import (
    ANALYSIS_SERVICE,
    BATCH_SERVICE,
    REFLECTION_V1,
    REFLECTION_V1ALPHA,
)
from server.transport.interceptors.base import Context, Method, ScopeInterceptor


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``limit`` open calls of one kind, per tenant or (unauthenticated methods)
    for the whole process, set by ``setting``."""

    kind: str  # "streams", "watches", "reflection streams"
    limit: int
    setting: str
    per_tenant: bool = True


class OpenCallsInterceptor(ScopeInterceptor):
    """Refuses a call over its cap with RESOURCE_EXHAUSTED, CONCURRENCY_LIMITED. Runs
    after auth, which establishes the tenant."""

    def __init__(self, caps: Mapping[str, Cap]) -> None:
        super().__init__()
        self._caps = dict(caps)  # method path -> its cap
        self._open: Counter[tuple[str, str]] = Counter()

    def applies_to(self, method: str) -> bool:
        return method in self._caps

    def open_calls(self, kind: str, tenant: str) -> int:
        return self._open[(kind, tenant)]

    @asynccontextmanager
    async def scope(self, method: Method, context: Context) -> AsyncIterator[None]:
        cap = self._caps[method.path]
        call = current_call.get(None)
        tenant = (call.tenant if call is not None else None) or DEFAULT_TENANT
        key = (cap.kind, tenant if cap.per_tenant else "")
        if self._open[key] >= cap.limit:
            whose = "this tenant already has" if cap.per_tenant else "this server already has"
            raise ResourceExhausted(
                f"too many open {cap.kind}: {whose} {cap.limit} open {method.name} calls, "
                f"the most {cap.setting} allows; close one before opening another",
                retry_after=None,
                subject=f"tenant:{tenant}" if cap.per_tenant else f"method:{method.name}",
                quota=f"{cap.limit} open {cap.kind}",
                reason=ErrorReason.CONCURRENCY_LIMITED,
            )
        self._open[key] += 1
        try:
            yield
        finally:
            self._open[key] -= 1
            if not self._open[key]:
                del self._open[key]


def tenant_caps(settings: Settings) -> OpenCallsInterceptor:
    """Each tenant's open streams and watches, and everyone's reflection streams, capped
    per server process (health watches are capped by the health servicer)."""
    name = settings.max_reflection_streams, "TEXTLENS_MAX_REFLECTION_STREAMS"
    reflection = Cap("reflection streams", *name, per_tenant=False)
    return OpenCallsInterceptor(
        {
            f"/{REFLECTION_V1ALPHA}/ServerReflectionInfo": reflection,
            f"/{REFLECTION_V1}/ServerReflectionInfo": reflection,
            f"/{ANALYSIS_SERVICE}/AnalyzeStream": Cap(
                "streams", settings.max_streams_per_tenant, "TEXTLENS_MAX_STREAMS_PER_TENANT"
            ),
            f"/{BATCH_SERVICE}/WatchBatch": Cap(
                "watches", settings.max_watches_per_tenant, "TEXTLENS_MAX_WATCHES_PER_TENANT"
            ),
        }
    )
