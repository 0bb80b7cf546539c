"""grpc.health.v1.Health: grpcio's servicer, with List (which reflection advertises)."""

from __future__ import annotations

from typing import Any

from grpc_health.v1 import health, health_pb2

# grpc-stubs predates grpc.aio's health servicer.
_Base: Any = health.aio.HealthServicer  # type: ignore[attr-defined]


class HealthServicer(_Base):  # type: ignore[misc]
    async def List(
        self, request: health_pb2.HealthListRequest, context: Any
    ) -> health_pb2.HealthListResponse:
        """Every service's status, as Check would answer for each."""
        return health_pb2.HealthListResponse(
            statuses={
                service: health_pb2.HealthCheckResponse(status=status)
                for service, status in self._server_status.items()
            }
        )
