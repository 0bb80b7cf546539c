"""The batch worker against in-memory fakes: claims, leases, one result per item, release."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from helpers.fakes import (
    FakeClock,
    FakeLanguageDetector,
    FakeMetrics,
    FakeQualityAnalyzer,
    FakeStorage,
    FakeUnitOfWork,
    ItemState,
    units_of_work,
)

from server.domain.errors import Unavailable
from server.domain.language import Languages
from server.domain.model import Analysis, AnalysisStatus, AnalysisType, BatchStatus
from server.service.analyst import Analyst, Job
from server.service.batches import BatchUseCases
from server.service.paging import Pager, PageTokens
from server.service.worker import BatchWorker

QUALITY = AnalysisType.QUALITY
LEASE = 30.0


@pytest.fixture
def batches(store: FakeStorage, clock: FakeClock) -> BatchUseCases:
    return BatchUseCases(
        units_of_work(store),
        Pager(PageTokens(b"k")),
        max_text_chars=100,
        max_batch_texts=100,
        clock=clock,
        languages=Languages(FakeLanguageDetector()),
    )


def worker(
    store: FakeStorage,
    clock: FakeClock,
    *,
    owner: str = "w1",
    chunk_size: int = 64,
    analyst: Analyst | None = None,
    metrics: FakeMetrics | None = None,
    wake: asyncio.Event | None = None,
    idle_seconds: float = 0.001,
) -> BatchWorker:
    return BatchWorker(
        units_of_work(store),
        analyst or Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}, clock=clock),
        owner=owner,
        chunk_size=chunk_size,
        lease_seconds=LEASE,
        idle_seconds=idle_seconds,
        wake=wake,
        metrics=metrics,
        clock=clock,
        languages=Languages(FakeLanguageDetector()),
    )


async def until(condition: Callable[[], bool]) -> None:
    """Lets the background worker run until ``condition`` holds (or the test times out)."""
    async with asyncio.timeout(10):
        # The worker signals nothing a test could wait on: its progress is in the storage.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


async def claim(store: FakeStorage, clock: FakeClock, owner: str) -> None:
    """A worker of another replica claims everything pending, then disappears."""
    async with FakeUnitOfWork(store) as uow:
        await uow.batches.claim(owner, 100, clock(), clock.now + timedelta(seconds=LEASE))
        await uow.commit()


async def test_a_worker_stores_one_result_per_item_in_chunks_and_finishes_the_batch(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    metrics = FakeMetrics()
    texts = [f"text number {i}" for i in range(5)]
    batch = await batches.create("acme", texts, QUALITY)
    one = worker(store, clock, chunk_size=2, metrics=metrics)
    clock.advance(3)
    assert [await one.run_once() for _ in range(4)] == [2, 2, 1, 0]
    results = store.results(batch.id)
    assert [(r.batch_item, r.text, r.status) for r in results] == [
        (i, text, AnalysisStatus.COMPLETED) for i, text in enumerate(texts)
    ]
    assert {(r.tenant, r.language) for r in results} == {("acme", "en")}
    done = store.batches[batch.id]
    assert (done.status, done.completed_count, done.failed_count) == (BatchStatus.COMPLETED, 5, 0)
    assert done.complete_time == done.update_time == clock.now
    assert {i.state for i in store.items.values()} == {ItemState.DONE}
    assert sorted(a.id for a in metrics.stored) == sorted(r.id for r in results)


async def test_failed_analyses_count_as_failed_and_a_batch_with_no_success_fails(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    mixed = await batches.create("acme", ["fine", "goes boom"], QUALITY)
    failed = await batches.create("acme", ["boom", "boom again"], QUALITY)
    await worker(store, clock).run_once()
    assert (store.batches[mixed.id].status, store.batches[mixed.id].failed_count) == (
        BatchStatus.COMPLETED,
        1,
    )
    assert store.batches[failed.id].status is BatchStatus.FAILED
    assert {r.status for r in store.results(failed.id)} == {AnalysisStatus.FAILED}


async def test_a_chunk_mixing_tenants_stores_each_result_under_its_own_tenant(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    mine = await batches.create("acme", ["one", "two"], QUALITY)
    theirs = await batches.create("globex", ["three"], QUALITY, language_code="en-GB")
    await worker(store, clock).run_once()
    assert {r.tenant for r in store.results(mine.id)} == {"acme"}
    assert [(r.tenant, r.language) for r in store.results(theirs.id)] == [("globex", "en-GB")]


async def test_items_held_by_a_vanished_worker_wait_for_their_lease_then_are_taken_over(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    batch = await batches.create("acme", ["one", "two"], QUALITY)
    await claim(store, clock, "vanished")
    assert store.batches[batch.id].status is BatchStatus.RUNNING
    survivor = worker(store, clock)
    assert await survivor.run_once() == 0, "the lease still holds"
    clock.advance(LEASE + 1)
    assert await survivor.run_once() == 2
    assert [r.batch_item for r in store.results(batch.id)] == [0, 1]
    assert {i.attempts for i in store.items.values()} == {2}


class PausedAnalyst(Analyst):
    """Analyses once ``resume`` is set: a worker slower than its lease."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__({AnalysisType.QUALITY: FakeQualityAnalyzer()}, clock=clock)
        self.started = asyncio.Event()
        self.resume = asyncio.Event()

    async def run(self, tenant: str, jobs: Sequence[Job]) -> list[Analysis]:
        self.started.set()
        await self.resume.wait()
        return await super().run(tenant, jobs)


async def test_a_worker_finishing_after_its_lease_ran_out_adds_no_second_result(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    batch = await batches.create("acme", ["one", "two", "three"], QUALITY)
    paused = PausedAnalyst(clock)
    slow = asyncio.ensure_future(worker(store, clock, owner="slow", analyst=paused).run_once())
    await paused.started.wait()
    clock.advance(LEASE + 1)
    assert await worker(store, clock, owner="fast").run_once() == 3
    paused.resume.set()
    assert await slow == 3, "the slow worker finished its chunk"
    results = store.results(batch.id)
    assert [r.batch_item for r in results] == [0, 1, 2], "exactly one result per item"
    done = store.batches[batch.id]
    assert (done.status, done.completed_count, done.failed_count) == (BatchStatus.COMPLETED, 3, 0)


async def test_a_row_the_database_refuses_holds_back_only_its_own_item(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    batch = await batches.create("acme", ["fine", "unstorable", "also fine"], QUALITY)
    store.refused.add("unstorable")
    one = worker(store, clock)
    assert await one.run_once() == 3
    assert [r.text for r in store.results(batch.id)] == ["fine", "also fine"]
    assert store.items[(batch.id, 1)].state is ItemState.CLAIMED
    assert store.batches[batch.id].status is BatchStatus.RUNNING
    store.refused.clear()
    assert await one.run_once() == 0, "the refused item returns only after its lease"
    clock.advance(LEASE + 1)
    assert await one.run_once() == 1
    assert store.batches[batch.id].status is BatchStatus.COMPLETED


async def test_a_stopped_worker_releases_what_it_holds_for_others_at_once(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    batch = await batches.create("acme", ["fine", "unstorable"], QUALITY)
    store.refused.add("unstorable")
    stopping = asyncio.Event()
    running = asyncio.ensure_future(worker(store, clock, owner="stopping").run(stopping))
    await until(lambda: len(store.results(batch.id)) == 1)
    stopping.set()
    await running
    held = store.items[(batch.id, 1)]
    assert (held.state, held.lease_owner) == (ItemState.PENDING, None)
    store.refused.clear()
    assert await worker(store, clock, owner="next").run_once() == 1, "no lease to wait for"
    assert store.batches[batch.id].status is BatchStatus.COMPLETED


async def test_a_worker_outlives_a_database_outage_and_a_failing_chunk(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    batch = await batches.create("acme", ["unstorable", "fine"], QUALITY)
    store.unavailable = True
    stopping = asyncio.Event()
    running = asyncio.ensure_future(worker(store, clock, chunk_size=1).run(stopping))
    await asyncio.sleep(0.02)
    store.refused.add("unstorable")
    store.unavailable = False
    # A chunk of one refused row fails (logged); the worker goes on with the next item.
    await until(lambda: len(store.results(batch.id)) == 1)
    store.refused.clear()
    clock.advance(LEASE + 1)
    await until(lambda: store.batches[batch.id].status is BatchStatus.COMPLETED)
    stopping.set()
    await running
    assert [r.text for r in store.results(batch.id)] == ["unstorable", "fine"]


async def test_a_claim_that_fails_unexpectedly_is_logged_and_the_worker_claims_again(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    batch = await batches.create("acme", ["one", "two"], QUALITY)
    store.broken_claims = 2
    stopping = asyncio.Event()
    running = asyncio.ensure_future(worker(store, clock).run(stopping))
    await until(lambda: store.batches[batch.id].status is BatchStatus.COMPLETED)
    stopping.set()
    await running
    assert store.broken_claims == 0
    assert [r.text for r in store.results(batch.id)] == ["one", "two"]


async def test_a_new_batch_wakes_an_idle_worker_of_the_same_process(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    stopping = asyncio.Event()
    idle = worker(store, clock, wake=batches.created, idle_seconds=3600)
    running = asyncio.ensure_future(idle.run(stopping))
    await asyncio.sleep(0.01)  # it found nothing and sleeps for an hour
    batch = await batches.create("acme", ["wake up"], QUALITY)
    await until(lambda: store.batches[batch.id].status is BatchStatus.COMPLETED)
    stopping.set()
    await running


def going_down(store: FakeStorage, after: int) -> Callable[[], FakeUnitOfWork]:
    """Units of work over ``store`` until ``after`` of them have been opened; then the
    database is down."""
    opened = 0

    def unit() -> FakeUnitOfWork:
        nonlocal opened
        opened += 1
        store.unavailable = opened > after
        return FakeUnitOfWork(store)

    return unit


@pytest.mark.parametrize(
    ("texts", "opened"),
    [
        (["one", "two"], 1),  # down before the chunk's results are stored
        (["unstorable", "two"], 2),  # down while its rows are stored one by one
    ],
)
async def test_storage_going_down_mid_chunk_loses_no_item(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock, texts: list[str], opened: int
) -> None:
    batch = await batches.create("acme", texts, QUALITY)
    store.refused.add("unstorable")
    failing = BatchWorker(
        going_down(store, opened),
        Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}, clock=clock),
        clock=clock,
    )
    with pytest.raises(Unavailable):
        await failing.run_once()
    assert store.results(batch.id) == []
    assert {i.state for i in store.items.values()} == {ItemState.CLAIMED}
    store.unavailable = False
    store.refused.clear()
    clock.advance(LEASE + 1)
    assert await worker(store, clock).run_once() == 2
    assert store.batches[batch.id].status is BatchStatus.COMPLETED


async def test_a_worker_cancelled_mid_chunk_gives_the_chunk_back_at_once(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    batch = await batches.create("acme", ["one", "two"], QUALITY)
    paused = PausedAnalyst(clock)
    running = asyncio.ensure_future(worker(store, clock, analyst=paused).run(asyncio.Event()))
    await paused.started.wait()
    running.cancel()
    await asyncio.sleep(0)
    paused.resume.set()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert store.results(batch.id) == []
    # Released, not left to its lease: another worker takes it now, with no time passing.
    assert await worker(store, clock, owner="w2").run_once() == 2
    assert [r.batch_item for r in store.results(batch.id)] == [0, 1]
    assert store.batches[batch.id].status is BatchStatus.COMPLETED


def test_workers_named_by_default_never_share_a_name(store: FakeStorage) -> None:
    analyst = Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()})
    names = {BatchWorker(units_of_work(store), analyst).owner for _ in range(3)}
    assert len(names) == 3
