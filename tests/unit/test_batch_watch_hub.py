"""The watch hub: one read per interval for all watchers of a batch, and how watches end."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from server.domain.errors import Unavailable
from server.domain.model import AnalysisType, Batch, BatchStatus
from server.service.watching import WatchHub

INTERVAL = 0.01


class Storage:
    """One batch whose progress the test moves; counts reads, fails them on demand."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.batch = Batch("b1", "t1", AnalysisType.SENTIMENT, BatchStatus.PENDING, 3, now, now)
        self.reads = 0
        self.down = False
        self.read = asyncio.Event()

    async def load(self, tenant: str, batch_id: str) -> Batch:
        assert (tenant, batch_id) == ("t1", "b1")
        self.reads += 1
        self.read.set()
        if self.down:
            raise Unavailable("the database is unreachable")
        return self.batch

    def progress(self, completed: int, status: BatchStatus = BatchStatus.RUNNING) -> None:
        self.batch = dataclasses.replace(self.batch, completed_count=completed, status=status)

    async def next_read(self) -> None:
        self.read.clear()
        await self.read.wait()


async def collect(watch: AsyncIterator[Batch], into: list[Batch]) -> None:
    async for snapshot in watch:
        into.append(snapshot)


async def test_watchers_share_the_reads_and_each_sees_every_step_to_the_end() -> None:
    storage = Storage()
    hub = WatchHub(storage.load, INTERVAL)
    seen: list[list[Batch]] = [[] for _ in range(20)]
    watchers = [asyncio.create_task(collect(hub.watch("t1", "b1"), s)) for s in seen]
    await storage.next_read()
    await storage.next_read()
    # Joining costs one read for the first watcher; the others start from its snapshot.
    reads_before = storage.reads
    for completed in (1, 2):
        storage.progress(completed)
        await storage.next_read()
        await storage.next_read()
    storage.progress(3, BatchStatus.COMPLETED)
    await asyncio.gather(*watchers)

    assert storage.reads - reads_before <= 6, "one read per interval, not one per watcher"
    for snapshots in seen:
        assert [s.completed_count for s in snapshots] == [0, 1, 2, 3]
        assert snapshots[-1].status == BatchStatus.COMPLETED
    assert hub.watched == 0


async def test_a_watcher_leaving_keeps_the_others_and_the_last_one_stops_the_reads() -> None:
    storage = Storage()
    hub = WatchHub(storage.load, INTERVAL)
    stays: list[Batch] = []
    leaves: list[Batch] = []
    staying = asyncio.create_task(collect(hub.watch("t1", "b1"), stays))
    leaving = asyncio.create_task(collect(hub.watch("t1", "b1"), leaves))
    await storage.next_read()
    leaving.cancel()
    storage.progress(2)
    await storage.next_read()
    await storage.next_read()
    assert hub.watched == 1
    staying.cancel()
    await asyncio.gather(staying, leaving, return_exceptions=True)
    await asyncio.sleep(INTERVAL * 3)

    assert [s.completed_count for s in stays] == [0, 2]
    assert hub.watched == 0
    reads = storage.reads
    await asyncio.sleep(INTERVAL * 3)
    assert storage.reads == reads, "nobody watches: nothing is read"


async def test_a_failed_read_ends_every_watch_with_its_own_error() -> None:
    storage = Storage()
    hub = WatchHub(storage.load, INTERVAL)
    watches = [hub.watch("t1", "b1") for _ in range(3)]
    firsts = [await anext(w) for w in watches]
    assert all(b.status == BatchStatus.PENDING for b in firsts)
    storage.down = True
    errors = []
    for watch in watches:
        with pytest.raises(Unavailable) as caught:
            await anext(watch)
        errors.append(caught.value)
    assert len({id(e) for e in errors}) == 3
    assert hub.watched == 0
