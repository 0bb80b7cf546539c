"""Open streams and watches are capped per tenant (and health watches per server); silent
streams are closed; health watches end at once at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from helpers.auth import authed_channel, make_token
from helpers.process import ServerProcess
from helpers.rpc import detail, reason, rich_status
from helpers.servers import running_server

from server.app import Application
from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT


@pytest.fixture(scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Application]:
    async with running_server(
        tmp_path_factory.mktemp("capacity"),
        batch_workers=0,  # batches stay PENDING, so their watches stay open
        max_streams_per_tenant=2,
        max_watches_per_tenant=2,
        max_health_watches=3,
        max_reflection_streams=2,
        stream_idle_seconds=1.0,
    ) as application:
        yield application


class OpenStream:
    """An AnalyzeStream call that has been answered once and is held open."""

    def __init__(self, stub: analysis_service_pb2_grpc.AnalysisServiceStub) -> None:
        self.queue: asyncio.Queue[analysis_service_pb2.AnalyzeStreamRequest | None] = (
            asyncio.Queue()
        )
        self.call = stub.AnalyzeStream(self._requests())

    async def _requests(self) -> AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest]:
        while (request := await self.queue.get()) is not None:
            yield request

    async def send(self, ref: str) -> analysis_service_pb2.AnalyzeStreamResponse:
        item = analysis_service_pb2.AnalyzeStreamItem(
            ref=ref, text="A calm and pleasant day.", analysis_type=SENTIMENT
        )
        await self.queue.put(analysis_service_pb2.AnalyzeStreamRequest(items=[item]))
        response: analysis_service_pb2.AnalyzeStreamResponse = await self.call.read()
        return response

    async def close(self) -> None:
        await self.queue.put(None)
        assert await self.call.code() == grpc.StatusCode.OK


def assert_concurrency_limited(error: grpc.aio.AioRpcError, setting: str) -> None:
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert reason(error) == "CONCURRENCY_LIMITED"
    assert setting in (error.details() or "")
    quota = detail(rich_status(error), error_details_pb2.QuotaFailure)
    assert quota.violations[0].description.startswith("concurrency limit")


async def test_a_tenant_over_its_open_stream_cap_is_refused_and_others_are_not(
    app: Application,
) -> None:
    async with (
        authed_channel(app.port, make_token("streamer")) as mine,
        authed_channel(app.port, make_token("bystander")) as theirs,
    ):
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(mine)
        held = [OpenStream(stub) for _ in range(2)]
        for index, stream in enumerate(held):
            assert (await stream.send(f"held-{index}")).results[0].HasField("analysis")

        over = OpenStream(stub)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await over.send("over")
        assert_concurrency_limited(refused.value, "TEXTLENS_MAX_STREAMS_PER_TENANT")

        # Another tenant's streams are not counted against this one's.
        other = OpenStream(analysis_service_pb2_grpc.AnalysisServiceStub(theirs))
        assert (await other.send("other")).results[0].HasField("analysis")
        await other.close()

        # Closing one frees its place.
        await held[0].close()
        again = OpenStream(stub)
        assert (await again.send("again")).results[0].HasField("analysis")
        await again.close()
        await held[1].close()


async def test_a_tenant_over_its_open_watch_cap_is_refused(app: Application) -> None:
    async with authed_channel(app.port, make_token("watcher")) as channel:
        batches = batch_service_pb2_grpc.BatchServiceStub(channel)
        batch = await batches.CreateBatch(
            batch_service_pb2.CreateBatchRequest(analysis_type=SENTIMENT, texts=["Fine."])
        )
        request = batch_service_pb2.WatchBatchRequest(id=batch.id)
        watches = [batches.WatchBatch(request) for _ in range(2)]
        for watch in watches:
            assert (await watch.read()).id == batch.id
        over = batches.WatchBatch(request)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await over.read()
        assert_concurrency_limited(refused.value, "TEXTLENS_MAX_WATCHES_PER_TENANT")
        watches[0].cancel()
        # The cancelled watch's place is given back once its call has ended.
        for _ in range(100):
            again = batches.WatchBatch(request)
            first = await asyncio.gather(again.read(), return_exceptions=True)
            if not isinstance(first[0], grpc.aio.AioRpcError):
                assert first[0].id == batch.id
                break
            assert reason(first[0]) == "CONCURRENCY_LIMITED"
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the cancelled watch still counted")
        again.cancel()
        watches[1].cancel()


async def test_unauthenticated_health_watches_are_capped_per_server(app: Application) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watches = [health.Watch(health_pb2.HealthCheckRequest()) for _ in range(3)]
        for watch in watches:
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        over = health.Watch(health_pb2.HealthCheckRequest())
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await over.read()
        assert_concurrency_limited(refused.value, "TEXTLENS_MAX_HEALTH_WATCHES")
        # Check is never refused for it.
        checked = await health.Check(health_pb2.HealthCheckRequest())
        assert checked.status == health_pb2.HealthCheckResponse.SERVING
        for watch in watches:
            watch.cancel()


async def test_unauthenticated_reflection_streams_are_capped_per_server(
    app: Application,
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        ask = reflection_pb2.ServerReflectionRequest(list_services="")
        held = [stub.ServerReflectionInfo() for _ in range(2)]
        for call in held:
            await call.write(ask)
            assert (await call.read()).list_services_response.service
        over = stub.ServerReflectionInfo()
        with contextlib.suppress(grpc.aio.AioRpcError):  # it may already have ended
            await over.write(ask)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await over.read()
        assert_concurrency_limited(refused.value, "TEXTLENS_MAX_REFLECTION_STREAMS")
        for call in held:
            await call.done_writing()
            assert await call.code() == grpc.StatusCode.OK


async def test_a_stream_that_sends_nothing_for_the_idle_timeout_is_closed(
    app: Application,
) -> None:
    async with authed_channel(app.port, make_token("idler")) as channel:
        stream = OpenStream(analysis_service_pb2_grpc.AnalysisServiceStub(channel))
        assert (await stream.send("first")).results[0].HasField("analysis")
        # Then silence: the server ends the stream after TEXTLENS_STREAM_IDLE_SECONDS (1 s).
        assert await stream.call.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "TEXTLENS_STREAM_IDLE_SECONDS" in (await stream.call.details() or "")
        stream.queue.put_nowait(None)


async def test_health_watches_end_at_once_at_shutdown(tmp_path: Path) -> None:
    grace = 60
    env = {
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "TEXTLENS_BATCH_WORKERS": "0",
        "TEXTLENS_SHUTDOWN_GRACE_SECONDS": str(grace),
    }
    with ServerProcess(env, cwd=tmp_path) as server:
        async with grpc.aio.insecure_channel(server.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watches = [
                health.Watch(health_pb2.HealthCheckRequest(service=name))
                for name in ("", "textlens.v1.AnalysisService", "no.such.Service")
            ]
            for watch in watches:
                assert (await watch.read()).status in (
                    health_pb2.HealthCheckResponse.SERVING,
                    health_pb2.HealthCheckResponse.SERVICE_UNKNOWN,
                )
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            for watch in watches:
                rest = []
                while (response := await watch.read()) is not grpc.aio.EOF:
                    rest.append(response.status)
                assert await watch.code() == grpc.StatusCode.OK
                assert rest in ([], [health_pb2.HealthCheckResponse.NOT_SERVING])
            assert await asyncio.to_thread(server.wait, grace) == 0
            # Far less than the grace period: nothing waited for the watches.
            assert time.monotonic() - started < grace / 2


async def test_past_the_servers_call_cap_a_new_call_is_refused_and_later_served(
    tmp_path: Path,
) -> None:
    async with (
        running_server(tmp_path, batch_workers=0, max_concurrent_rpcs=2) as application,
        grpc.aio.insecure_channel(f"127.0.0.1:{application.port}") as channel,
        authed_channel(application.port, make_token("caller")) as authed,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        watches = [health.Watch(health_pb2.HealthCheckRequest()) for _ in range(2)]
        for watch in watches:
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(authed)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        for watch in watches:
            watch.cancel()
        for _ in range(100):
            try:
                await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
                break
            except grpc.aio.AioRpcError as error:  # the watches are still ending
                if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("calls still refused once the watches had ended")


async def test_calls_past_the_per_connection_stream_cap_wait_for_a_free_stream(
    tmp_path: Path,
) -> None:
    async with (
        running_server(tmp_path, batch_workers=0, max_streams_per_connection=1) as application,
        grpc.aio.insecure_channel(f"127.0.0.1:{application.port}") as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        check = asyncio.ensure_future(health.Check(health_pb2.HealthCheckRequest()))
        await asyncio.sleep(0.5)
        assert not check.done()  # queued by the client: the connection has no stream free
        watch.cancel()
        answer = await asyncio.wait_for(check, 30)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
