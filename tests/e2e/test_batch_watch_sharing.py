"""WatchBatch on PostgreSQL: many watchers of one batch share one read per poll interval."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import grpc
import grpc.aio
from helpers.auth import authed_channel, server_settings
from helpers.databases import temporary_database
from sqlalchemy import event

from server.app import Application
from server.service.batches import WATCH_POLL_SECONDS
from textlens.v1 import analysis_pb2, batch_pb2, batch_service_pb2, batch_service_pb2_grpc

WATCHERS = 50
CHANNELS = 5
TEXTS = 3000
# Reads of one batch row, as the watch and GetBatch make them (not batch_items).
BATCH_READ = re.compile(r"^\s*SELECT\b.*\bFROM batches\b", re.IGNORECASE | re.DOTALL)


@asynccontextmanager
async def running(url: str, *, batch_workers: int) -> AsyncIterator[Application]:
    app = Application(
        # More watchers of one tenant than the default cap, which is not what is tested here.
        server_settings(
            database_url=url, batch_workers=batch_workers, max_watches_per_tenant=WATCHERS
        ),
        migrate_schema=True,
    )
    await app.start()
    try:
        yield app
    finally:
        await app.stop(0)


class BatchReads:
    """Counts the statements one server's engine sends that read the batches table."""

    def __init__(self, app: Application) -> None:
        self.count = 0
        self._engine = app.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if BATCH_READ.match(statement):
            self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


async def watch(
    stub: batch_service_pb2_grpc.BatchServiceStub,
    batch_id: str,
    snapshots: list[batch_pb2.Batch],
    started: asyncio.Event,
) -> grpc.StatusCode:
    call = stub.WatchBatch(batch_service_pb2.WatchBatchRequest(id=batch_id), timeout=120)
    try:
        async for snapshot in call:
            snapshots.append(snapshot)
            started.set()
    except asyncio.CancelledError:
        call.cancel()
        return grpc.StatusCode.CANCELLED
    return await call.code()


async def test_many_watchers_of_one_batch_cost_one_read_per_interval_and_see_it_finish() -> None:
    async with temporary_database() as url, AsyncExitStack() as stack:
        # This server has no batch worker, so the batch waits while its watchers gather;
        # a second server sharing the database does the work later.
        watched = await stack.enter_async_context(running(url, batch_workers=0))
        channels = [
            await stack.enter_async_context(authed_channel(watched.port)) for _ in range(CHANNELS)
        ]
        stubs = [batch_service_pb2_grpc.BatchServiceStub(channel) for channel in channels]
        batch = await stubs[0].CreateBatch(
            batch_service_pb2.CreateBatchRequest(
                analysis_type=analysis_pb2.ANALYSIS_TYPE_SENTIMENT,
                texts=[f"Watched text number {i} is rather good." for i in range(TEXTS)],
            )
        )
        seen: list[list[batch_pb2.Batch]] = [[] for _ in range(WATCHERS)]
        started = [asyncio.Event() for _ in range(WATCHERS)]
        watchers = [
            asyncio.create_task(watch(stubs[i % CHANNELS], batch.id, seen[i], started[i]))
            for i in range(WATCHERS)
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started)), 30)

        reads = BatchReads(watched)
        since = time.perf_counter()
        await asyncio.sleep(10 * WATCH_POLL_SECONDS)
        elapsed = time.perf_counter() - since
        reads.close()
        # One read per interval for the batch, however many watch it (one read per watcher
        # per interval would be WATCHERS times as many).
        assert 1 <= reads.count <= elapsed / WATCH_POLL_SECONDS + 1, reads.count

        # A watcher that goes away leaves the others watching.
        watchers[0].cancel()
        assert await watchers[0] == grpc.StatusCode.CANCELLED

        await stack.enter_async_context(running(url, batch_workers=1))
        codes = await asyncio.wait_for(asyncio.gather(*watchers[1:]), 120)

    assert codes == [grpc.StatusCode.OK] * (WATCHERS - 1)
    for snapshots in seen[1:]:
        assert snapshots[0].status == batch_pb2.BATCH_STATUS_PENDING
        done = [s.completed_count + s.failed_count for s in snapshots]
        assert done == sorted(done)
        news = [(s.status, s.completed_count, s.failed_count) for s in snapshots]
        assert len(set(news)) == len(news), "each snapshot tells something new"
        assert snapshots[-1].status == batch_pb2.BATCH_STATUS_COMPLETED
        assert snapshots[-1].completed_count == TEXTS
    assert seen[0][-1].status == batch_pb2.BATCH_STATUS_PENDING
