"""Composition root: builds adapters, use cases and the gRPC server from Settings."""

from __future__ import annotations

import asyncio
import signal
from typing import TextIO

import grpc.aio
import structlog
from grpc_health.v1 import health_pb2

from server.config import Settings
from server.transport.grpc_server import TEXTLENS_SERVICES, HealthServicer, create_server
from server.transport.interceptors.request_context import RequestContextInterceptor
from server.transport.servicers import AnalysisServicer, BatchServicer

log = structlog.get_logger("textlens.app")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Application:
    """One server process: owns the gRPC server and everything it was built from."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.health = HealthServicer()
        self._server: grpc.aio.Server | None = None
        self.port: int | None = None

    async def start(self) -> int:
        """Binds the port, starts serving and returns the bound port."""
        self._server = create_server(
            interceptors=[RequestContextInterceptor()],
            analysis=AnalysisServicer(),
            batches=BatchServicer(),
            health_servicer=self.health,
        )
        address = f"{self.settings.host}:{self.settings.port}"
        self.port = self._server.add_insecure_port(address)
        if self.port == 0:
            raise RuntimeError(f"could not bind {address}")
        await self._server.start()
        await self._set_health(SERVING)
        log.info("serving", host=self.settings.host, port=self.port)
        return self.port

    async def _set_health(self, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        for service in ("", *TEXTLENS_SERVICES):
            await self.health.set(service, status)

    async def stop(self, grace: float | None = None) -> None:
        """Drains: health NOT_SERVING at once, in-flight calls get ``grace`` seconds."""
        if self._server is None:
            return
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        log.info("draining", grace_seconds=grace)
        await self.health.enter_graceful_shutdown()
        await self._server.stop(grace)
        self._server = None
        log.info("stopped")


async def serve(settings: Settings, banner: TextIO | None = None) -> None:
    """Runs one server until SIGTERM or SIGINT, then drains and returns."""
    app = Application(settings)
    port = await app.start()
    if banner is not None:
        print(f"TextLens listening on {settings.host}:{port}", file=banner, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await app.stop()
