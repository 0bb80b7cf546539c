"""grpc.health.v1 for grpc.aio: Check, List and Watch, with watches bounded and ended at shutdown.

Health is open to unauthenticated clients (probes carry no token), so each open Watch is
a stream anybody can hold: their number is capped, and at shutdown every watcher gets
NOT_SERVING and its stream ends at once, instead of holding the drain for the whole grace
period.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.domain.errors import ErrorReason, ResourceExhausted

Status: TypeAlias = health_pb2.HealthCheckResponse.ServingStatus
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


class HealthServicer(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    def __init__(self, max_watches: int = 100) -> None:
        self._status: dict[str, Status] = {"": health_pb2.HealthCheckResponse.SERVING}
        self._changed = asyncio.Condition()
        self._shutting_down = False
        self._max_watches = max_watches
        self.watches = 0

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: Any
    ) -> health_pb2.HealthCheckResponse:
        status = self._status.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: Any) -> None:
        if self.watches >= self._max_watches:
            raise ResourceExhausted(
                f"too many open health watches: this server already has {self._max_watches}, "
                "the most TEXTLENS_MAX_HEALTH_WATCHES allows; use Check, or retry later",
                retry_after=None,
                subject="health:Watch",
                quota=f"{self._max_watches} open watches",
                reason=ErrorReason.CONCURRENCY_LIMITED,
            )
        self.watches += 1
        try:
            service = request.service
            sent: Status | None = None
            while True:
                async with self._changed:
                    while not self._shutting_down and self._of(service) == sent:
                        await self._changed.wait()
                    status = self._of(service)
                if status != sent:
                    await context.write(health_pb2.HealthCheckResponse(status=status))
                    sent = status
                # Shutdown may have come while that write was on its way: the stream ends
                # only once the last status has been sent.
                if self._shutting_down and sent == self._of(service):
                    return
        finally:
            self.watches -= 1

    def _of(self, service: str) -> Status:
        return self._status.get(service, SERVICE_UNKNOWN)

    async def set(self, service: str, status: Status) -> None:
        """Sets a service's status and tells its watchers; ignored once shutting down."""
        if self._shutting_down:
            return
        async with self._changed:
            self._status[service] = status
            self._changed.notify_all()

    async def enter_graceful_shutdown(self) -> None:
        """Every service NOT_SERVING, for good; every watch is told and ends."""
        async with self._changed:
            self._shutting_down = True
            for service in self._status:
                self._status[service] = NOT_SERVING
            self._changed.notify_all()

    async def List(
        self, request: health_pb2.HealthListRequest, context: Any
    ) -> health_pb2.HealthListResponse:
        """Every service's status, as Check would answer for each."""
        return health_pb2.HealthListResponse(
            statuses={
                service: health_pb2.HealthCheckResponse(status=status)
                for service, status in self._status.items()
            }
        )
