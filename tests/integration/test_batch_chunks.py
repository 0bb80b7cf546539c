"""Batch chunks on real PostgreSQL and SQLite: leases, claims again, release and cancel,
with exactly one stored result per item whichever worker stores it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from helpers.databases import database_url
from sqlalchemy.ext.asyncio import AsyncEngine

from server.adapters.db import migrate
from server.adapters.db.engine import create_engine
from server.adapters.db.uow import SqlUnitOfWork
from server.domain.analyzers import default_analyzers
from server.domain.model import Analysis, AnalysisType, Batch, BatchStatus
from server.service.analyst import analyze
from server.service.batches import BatchUseCases
from server.service.clock import utc_now
from server.service.paging import Pager, PageTokens
from server.service.ports import ClaimedItem

TENANT = "chunks"
SENTIMENT = default_analyzers()[AnalysisType.SENTIMENT]


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with database_url(request.param, tmp_path) as url:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        try:
            yield engine
        finally:
            await engine.dispose()


@pytest.fixture
def uow(engine: AsyncEngine) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine)


@pytest.fixture
def batches(uow: Callable[[], SqlUnitOfWork]) -> BatchUseCases:
    return BatchUseCases(uow, Pager(PageTokens(b"k")), max_text_chars=100, max_batch_texts=100)


async def create(batches: BatchUseCases, count: int) -> Batch:
    return await batches.create(
        TENANT, [f"Item {i} is rather nice." for i in range(count)], AnalysisType.SENTIMENT
    )


async def claim(
    uow: Callable[[], SqlUnitOfWork], owner: str, limit: int, *, later: float = 0.0
) -> list[ClaimedItem]:
    now = utc_now() + timedelta(seconds=later)
    async with uow() as work:
        items = await work.batches.claim(owner, limit, now, now + timedelta(seconds=5))
        await work.commit()
    return items


def results(items: list[ClaimedItem]) -> list[Analysis]:
    return [
        analyze(SENTIMENT, tenant=i.tenant, text=i.text, batch_id=i.batch_id, batch_item=i.item)
        for i in items
    ]


async def complete(uow: Callable[[], SqlUnitOfWork], owner: str, items: list[ClaimedItem]) -> int:
    async with uow() as work:
        stored = await work.batches.complete(owner, results(items), utc_now())
        await work.commit()
    return stored


async def test_claims_hand_out_consecutive_chunks_of_one_batch(
    uow: Callable[[], SqlUnitOfWork], batches: BatchUseCases
) -> None:
    batch = await create(batches, 10)
    chunks = [await claim(uow, owner, 4) for owner in ("a", "b", "c")]
    assert [[i.item for i in chunk] for chunk in chunks] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert await claim(uow, "d", 4) == []
    running = await batches.get(TENANT, batch.id)
    assert running.status == BatchStatus.RUNNING


async def test_an_expired_chunk_is_claimed_again_for_its_unstored_items_only(
    uow: Callable[[], SqlUnitOfWork], batches: BatchUseCases
) -> None:
    batch = await create(batches, 4)
    slow = await claim(uow, "slow", 4)
    assert await complete(uow, "slow", slow[:2]) == 2
    again = await claim(uow, "fast", 4, later=10)  # past the slow worker's lease
    assert [i.item for i in again] == [2, 3]
    # The slow worker no longer holds the chunk: its late results are not stored.
    assert await complete(uow, "slow", slow[2:]) == 0
    assert await complete(uow, "fast", again) == 2
    done = await batches.get(TENANT, batch.id)
    assert (done.status, done.completed_count) == (BatchStatus.COMPLETED, 4)
    assert await claim(uow, "late", 4, later=20) == []


async def test_released_chunks_are_claimed_again_at_once(
    uow: Callable[[], SqlUnitOfWork], batches: BatchUseCases
) -> None:
    await create(batches, 6)
    held = await claim(uow, "stopping", 6)
    async with uow() as work:
        assert await work.batches.release("stopping") == 6
        assert await work.batches.pending_count() == 6
        await work.commit()
    again = await claim(uow, "next", 6)
    assert [i.item for i in again] == [i.item for i in held]


async def test_a_cancelled_batch_takes_no_results_from_workers_holding_its_chunks(
    uow: Callable[[], SqlUnitOfWork], batches: BatchUseCases
) -> None:
    batch = await create(batches, 8)
    held = await claim(uow, "worker", 4)
    await batches.cancel(TENANT, batch.id)
    assert await complete(uow, "worker", held) == 0
    assert await claim(uow, "worker", 4, later=10) == []
    cancelled = await batches.get(TENANT, batch.id)
    assert (cancelled.status, cancelled.completed_count) == (BatchStatus.CANCELLED, 0)
    async with uow() as work:
        assert await work.batches.pending_count() == 0
