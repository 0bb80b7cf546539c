"""Health tells the truth about the database; SIGTERM drains calls and releases batch work."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.auth import authed_channel, server_settings
from helpers.databases import fetch_all, temporary_database
from helpers.pgcluster import postgres_cluster
from helpers.process import ServerProcess

from server.app import Application
from textlens.v1 import (
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_pb2,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _next_status(watch: grpc.aio.UnaryStreamCall) -> int:  # type: ignore[type-arg]
    response = await asyncio.wait_for(watch.read(), 15)
    return int(response.status)


async def test_health_follows_the_database_down_and_back_up() -> None:
    with postgres_cluster() as cluster:
        app = Application(server_settings(database_url=cluster.url), migrate_schema=True)
        await app.start()
        try:
            async with authed_channel(app.port) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                watch = health.Watch(
                    health_pb2.HealthCheckRequest(service="textlens.v1.AnalysisService")
                )
                assert await _next_status(watch) == SERVING

                await asyncio.to_thread(cluster.stop)
                assert await _next_status(watch) == NOT_SERVING
                # The process itself is fine: liveness ("") stays SERVING.
                whole = await health.Check(health_pb2.HealthCheckRequest(service=""))
                assert whole.status == SERVING
                stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest(), timeout=10)
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

                await asyncio.to_thread(cluster.start)
                assert await _next_status(watch) == SERVING
                await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest(), timeout=10)
                watch.cancel()
        finally:
            await app.stop(0)


async def test_sigterm_drains_a_stream_in_flight_then_exits_zero(tmp_path: Path) -> None:
    env = {
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "TEXTLENS_SHUTDOWN_GRACE_SECONDS": "20",
    }
    with ServerProcess(env, cwd=tmp_path) as process:
        async with authed_channel(process.target) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
            assert await _next_status(watch) == SERVING
            send: asyncio.Queue[analysis_service_pb2.AnalyzeStreamRequest | None] = asyncio.Queue()

            async def requests() -> AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest]:
                while (request := await send.get()) is not None:
                    yield request

            def message(ref: str) -> analysis_service_pb2.AnalyzeStreamRequest:
                return analysis_service_pb2.AnalyzeStreamRequest(
                    items=[
                        analysis_service_pb2.AnalyzeStreamItem(
                            ref=ref, text="Still being served.", analysis_type=1
                        )
                    ]
                )

            stream = analysis_service_pb2_grpc.AnalysisServiceStub(channel).AnalyzeStream(
                requests()
            )
            await send.put(message("before"))
            assert (await stream.read()).results[0].ref == "before"

            process.signal(signal.SIGTERM)
            assert await _next_status(watch) == NOT_SERVING
            # The stream opened before the signal is still served during the grace period.
            await send.put(message("during"))
            assert (await stream.read()).results[0].ref == "during"
            await send.put(None)
            assert await stream.read() == grpc.aio.EOF
            assert await stream.code() == grpc.StatusCode.OK
        assert await asyncio.to_thread(process.wait) == 0


async def test_sigterm_releases_claimed_batch_items_for_other_replicas(tmp_path: Path) -> None:
    async with temporary_database() as url:
        settings = {
            "TEXTLENS_DATABASE_URL": url,
            "TEXTLENS_BATCH_LEASE_SECONDS": "600",  # only a release can free them in time
            "TEXTLENS_BATCH_CHUNK_SIZE": "200",
            "TEXTLENS_SHUTDOWN_GRACE_SECONDS": "0",
        }
        first = ServerProcess(settings, cwd=tmp_path, args=("serve", "--migrate")).start()
        try:
            async with authed_channel(first.target) as channel:
                batches = batch_service_pb2_grpc.BatchServiceStub(channel)
                batch = await batches.CreateBatch(
                    batch_service_pb2.CreateBatchRequest(
                        texts=[f"Release test text {i}, quite ordinary." for i in range(4000)],
                        analysis_type=1,
                    )
                )
                async for snapshot in batches.WatchBatch(
                    batch_service_pb2.WatchBatchRequest(id=batch.id)
                ):
                    if snapshot.completed_count > 0:
                        break
            first.signal(signal.SIGTERM)
            assert await asyncio.to_thread(first.wait) == 0
        finally:
            first.kill()
        claimed = await fetch_all(url, "SELECT count(*) FROM batch_chunks WHERE state = 1")
        assert claimed == [(0,)], "a stopped server leaves nothing claimed"
        with ServerProcess(settings, cwd=tmp_path) as second:
            async with authed_channel(second.target) as channel:
                batches = batch_service_pb2_grpc.BatchServiceStub(channel)
                snapshots = [
                    s
                    async for s in batches.WatchBatch(
                        batch_service_pb2.WatchBatchRequest(id=batch.id), timeout=120
                    )
                ]
        assert snapshots[-1].status == batch_pb2.BATCH_STATUS_COMPLETED
        assert snapshots[-1].completed_count == 4000
