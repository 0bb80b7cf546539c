"""Durable batches with real server processes: volume, sharing, crashes, cancel, watching."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.auth import authed_channel
from helpers.databases import database_url, fetch_all
from helpers.process import ServerProcess

from server.adapters.db import migrate
from server.adapters.db.engine import create_engine
from textlens.v1 import batch_pb2, batch_service_pb2, batch_service_pb2_grpc

SENTIMENT = 1
NO_RESULT = (
    "NOT EXISTS (SELECT 1 FROM analyses a WHERE a.batch_id = i.batch_id AND a.batch_item = i.item)"
)


@pytest.fixture(params=["postgresql", "sqlite"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database_url(request.param, tmp_path) as url:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        await engine.dispose()
        yield url


def server(url: str, cwd: Path, **settings: str) -> ServerProcess:
    env = {
        "TEXTLENS_DATABASE_URL": url,
        "TEXTLENS_BATCH_POLL_SECONDS": "0.2",
        "TEXTLENS_LOG_LEVEL": "DEBUG",
        **{f"TEXTLENS_{key.upper()}": value for key, value in settings.items()},
    }
    return ServerProcess(env, cwd=cwd)


async def create_batch(target: str, count: int) -> str:
    async with authed_channel(target) as channel:
        stub = batch_service_pb2_grpc.BatchServiceStub(channel)
        batch = await stub.CreateBatch(
            batch_service_pb2.CreateBatchRequest(
                analysis_type=SENTIMENT,
                texts=[f"Text number {i} of the batch is quite good." for i in range(count)],
            )
        )
        return batch.id


async def watch(target: str, batch_id: str) -> list[batch_pb2.Batch]:
    async with authed_channel(target) as channel:
        stub = batch_service_pb2_grpc.BatchServiceStub(channel)
        request = batch_service_pb2.WatchBatchRequest(id=batch_id)
        return [snapshot async for snapshot in stub.WatchBatch(request, timeout=240)]


async def wait_for_progress(target: str, batch_id: str, done: int) -> None:
    async with authed_channel(target) as channel:
        stub = batch_service_pb2_grpc.BatchServiceStub(channel)
        async for snapshot in stub.WatchBatch(batch_service_pb2.WatchBatchRequest(id=batch_id)):
            if snapshot.completed_count >= done:
                return
    raise AssertionError("the batch finished before the expected progress was seen")


async def assert_one_result_per_item(url: str, batch_id: str, total: int) -> None:
    key = batch_id if url.startswith("postgresql") else batch_id.replace("-", "")
    per_item = await fetch_all(
        url,
        "SELECT batch_item, count(*) FROM analyses WHERE batch_id = :b GROUP BY batch_item",
        b=key,
    )
    assert len(per_item) == total
    assert {count for _, count in per_item} == {1}
    assert sorted(item for item, _ in per_item) == list(range(total))


def chunks_done_by(process: ServerProcess) -> int:
    return sum(
        int(record["stored"])
        for record in process.log_records()
        if record.get("event") == "batch chunk done"
    )


async def test_a_ten_thousand_text_batch_completes_with_ten_thousand_results(
    url: str, tmp_path: Path
) -> None:
    with server(url, tmp_path) as process:
        batch_id = await create_batch(process.target, 10_000)
        snapshots = await watch(process.target, batch_id)
    final = snapshots[-1]
    assert final.status == batch_pb2.BATCH_STATUS_COMPLETED
    assert (final.completed_count, final.failed_count) == (10_000, 0)
    counts = [s.completed_count for s in snapshots]
    assert counts == sorted(counts)
    await assert_one_result_per_item(url, batch_id, 10_000)


async def test_two_processes_share_one_batch_and_analyse_no_item_twice(
    url: str, tmp_path: Path
) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("several processes share work through PostgreSQL (SQLite: one process)")
    with server(url, tmp_path) as first, server(url, tmp_path) as second:
        batch_id = await create_batch(first.target, 6_000)
        snapshots = await watch(second.target, batch_id)
        assert snapshots[-1].status == batch_pb2.BATCH_STATUS_COMPLETED
    # Each process did part of the work, and every item was claimed exactly once.
    assert chunks_done_by(first) > 0
    assert chunks_done_by(second) > 0
    assert chunks_done_by(first) + chunks_done_by(second) == 6_000
    attempts = await fetch_all(
        url, "SELECT attempts, sum(item_count) FROM batch_chunks GROUP BY attempts"
    )
    assert attempts == [(1, 6_000)]
    await assert_one_result_per_item(url, batch_id, 6_000)
    # Of the two processes finishing its last chunks, exactly one says it is done.
    finished = [
        r
        for process in (first, second)
        for r in process.log_records()
        if r.get("batch_id") == batch_id and r["event"] == "batch completed"
    ]
    assert [(r["total"], r["completed"], r["failed"]) for r in finished] == [(6_000, 6_000, 0)]


async def test_a_server_killed_mid_batch_is_finished_by_the_next_with_one_result_per_item(
    url: str, tmp_path: Path
) -> None:
    settings = {"batch_lease_seconds": "2", "batch_chunk_size": "16"}
    victim = server(url, tmp_path, **settings).start()
    try:
        batch_id = await create_batch(victim.target, 3_000)
        await wait_for_progress(victim.target, batch_id, 200)
        victim.signal(signal.SIGKILL)
        assert victim.wait() == -signal.SIGKILL
    finally:
        victim.kill()
    unfinished = await fetch_all(url, f"SELECT count(*) FROM batch_items i WHERE {NO_RESULT}")
    assert unfinished[0][0] > 0, "the kill came too late to leave work unfinished"
    with server(url, tmp_path, **settings) as successor:
        snapshots = await watch(successor.target, batch_id)
    assert snapshots[-1].status == batch_pb2.BATCH_STATUS_COMPLETED
    assert snapshots[-1].completed_count == 3_000
    await assert_one_result_per_item(url, batch_id, 3_000)


async def test_cancel_mid_batch_stores_nothing_more_for_that_batch(
    url: str, tmp_path: Path
) -> None:
    with server(url, tmp_path, batch_chunk_size="16") as process:
        batch_id = await create_batch(process.target, 5_000)
        await wait_for_progress(process.target, batch_id, 100)
        async with authed_channel(process.target) as channel:
            stub = batch_service_pb2_grpc.BatchServiceStub(channel)
            cancelled = await stub.CancelBatch(batch_service_pb2.CancelBatchRequest(id=batch_id))
            assert cancelled.status == batch_pb2.BATCH_STATUS_CANCELLED
            assert cancelled.complete_time.seconds > 0
            await asyncio.sleep(1)  # workers would have gone on by now
            later = await stub.GetBatch(batch_service_pb2.GetBatchRequest(id=batch_id))
    assert later.status == batch_pb2.BATCH_STATUS_CANCELLED
    # Chunks being analysed or waiting to be stored when the cancel came are dropped.
    assert later.completed_count == cancelled.completed_count
    assert later.completed_count < 5_000
    key = batch_id if url.startswith("postgresql") else batch_id.replace("-", "")
    results = await fetch_all(url, "SELECT count(*) FROM analyses WHERE batch_id = :b", b=key)
    assert results == [(later.completed_count,)]
    never = await fetch_all(
        url, f"SELECT count(*) FROM batch_items i WHERE batch_id = :b AND {NO_RESULT}", b=key
    )
    assert never[0][0] == 5_000 - later.completed_count
    open_chunks = await fetch_all(
        url, "SELECT count(*) FROM batch_chunks WHERE batch_id = :b AND state < 2", b=key
    )
    assert open_chunks == [(0,)]


async def test_watch_from_another_process_sees_monotonic_progress_to_the_end(
    url: str, tmp_path: Path
) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("a second process shares the database only on PostgreSQL")
    with (
        server(url, tmp_path) as worker,
        server(url, tmp_path, batch_workers="0") as watcher,
    ):
        batch_id = await create_batch(worker.target, 4_000)
        snapshots = await watch(watcher.target, batch_id)
    assert chunks_done_by(watcher) == 0
    counts = [s.completed_count for s in snapshots]
    assert counts == sorted(counts)
    assert len(snapshots) > 2  # progress was seen on the way, not only the end
    assert snapshots[-1].status == batch_pb2.BATCH_STATUS_COMPLETED
    assert snapshots[-1].completed_count == 4_000
