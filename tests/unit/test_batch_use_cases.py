"""Batch use cases against in-memory fakes: create, replay, get, list, cancel and watch."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from helpers.fakes import (
    FakeClock,
    FakeStorage,
    FakeUnitOfWork,
    ItemState,
    units_of_work,
)

from server.domain.errors import (
    AlreadyExists,
    ErrorReason,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from server.domain.model import AnalysisType, Batch, BatchStatus, payload_hash
from server.service.batches import BatchUseCases
from server.service.paging import ListQuery, Pager, PageTokens
from server.service.ports import BatchFilter, DuplicateRequestId, UnitOfWorkFactory

QUALITY = AnalysisType.QUALITY
SENTIMENT = AnalysisType.SENTIMENT


def batch_use_cases(uow: UnitOfWorkFactory, clock: FakeClock) -> BatchUseCases:
    return BatchUseCases(
        uow,
        Pager(PageTokens(b"k")),
        max_text_chars=50,
        max_batch_texts=5,
        clock=clock,
        watch_poll_seconds=0.001,
    )


@pytest.fixture
def batches(store: FakeStorage, clock: FakeClock) -> BatchUseCases:
    return batch_use_cases(units_of_work(store), clock)


async def test_create_stores_a_pending_batch_with_one_pending_item_per_trimmed_text(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    batch = await batches.create("acme", [" one ", "two\n"], QUALITY)
    assert (batch.status, batch.total_count, batch.analysis_type) == (
        BatchStatus.PENDING,
        2,
        AnalysisType.QUALITY,
    )
    assert batch.create_time == batch.update_time == clock.now
    assert store.batches == {batch.id: batch}
    assert [(i.text, i.state) for i in store.items.values()] == [
        ("one", ItemState.PENDING),
        ("two", ItemState.PENDING),
    ]
    assert batches.created.is_set(), "local workers are woken"


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        ([], ErrorReason.BATCH_EMPTY),
        (["a"] * 6, ErrorReason.BATCH_TOO_LARGE),
        (["fine", "  "], ErrorReason.TEXT_EMPTY),
        (["fine", "x" * 51], ErrorReason.TEXT_TOO_LONG),
    ],
)
async def test_an_invalid_batch_is_refused_and_stores_nothing(
    batches: BatchUseCases, store: FakeStorage, texts: list[str], reason: ErrorReason
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await batches.create("acme", texts, QUALITY)
    assert reason in {caught.value.reason, *(v.reason for v in caught.value.violations)}
    assert (store.batches, store.items) == ({}, {})
    assert not batches.created.is_set()


async def test_a_retry_returns_the_first_batch_and_a_reuse_already_exists(
    batches: BatchUseCases, store: FakeStorage
) -> None:
    first = await batches.create("acme", ["one", "two"], QUALITY, "key-1")
    assert await batches.create("acme", [" one", "two "], QUALITY, "key-1") == first
    with pytest.raises(AlreadyExists) as caught:
        await batches.create("acme", ["one", "three"], QUALITY, "key-1")
    assert caught.value.reason is ErrorReason.REQUEST_ID_REUSED
    with pytest.raises(AlreadyExists):
        await batches.create("acme", ["one", "two"], SENTIMENT, "key-1")
    assert list(store.batches) == [first.id] and len(store.items) == 2
    theirs = await batches.create("globex", ["one", "two"], QUALITY, "key-1")
    assert theirs.id != first.id, "request ids are per tenant"


def racing_units(
    store: FakeStorage, winner_hash: str | None, *, deleted: bool
) -> UnitOfWorkFactory:
    """Units of work over ``store`` where a concurrent request with request id "key-1"
    stores its batch just after this one's lookup (and, if ``deleted``, is gone again
    before the lookup that follows the collision)."""
    calls = 0
    winner = Batch(
        id="0190a7d2-0000-7000-8000-000000000000",
        tenant="acme",
        analysis_type=AnalysisType.QUALITY,
        status=BatchStatus.PENDING,
        total_count=2,
        create_time=FakeClock().now,
        update_time=FakeClock().now,
        request_id="key-1",
        payload_hash=winner_hash,
    )

    def unit() -> FakeUnitOfWork:
        nonlocal calls
        calls += 1
        if calls == 2:
            store.batches[winner.id] = winner
        if calls == 3 and deleted:
            del store.batches[winner.id]
        return FakeUnitOfWork(store)

    return unit


async def test_a_create_losing_a_race_to_its_own_retry_answers_as_the_winner(
    store: FakeStorage, clock: FakeClock
) -> None:
    same = payload_hash(AnalysisType.QUALITY, "one", "two")
    use_cases = batch_use_cases(racing_units(store, same, deleted=False), clock)
    answer = await use_cases.create("acme", ["one", "two"], QUALITY, "key-1")
    assert list(store.batches) == [answer.id] == ["0190a7d2-0000-7000-8000-000000000000"]
    assert store.items == {}, "the loser's items were never stored"


async def test_a_create_losing_a_race_to_another_payload_already_exists(
    store: FakeStorage, clock: FakeClock
) -> None:
    use_cases = batch_use_cases(racing_units(store, "another", deleted=False), clock)
    with pytest.raises(AlreadyExists):
        await use_cases.create("acme", ["one", "two"], QUALITY, "key-1")


async def test_a_create_whose_winner_was_deleted_meanwhile_fails_and_stores_nothing(
    store: FakeStorage, clock: FakeClock
) -> None:
    use_cases = batch_use_cases(racing_units(store, "another", deleted=True), clock)
    with pytest.raises(DuplicateRequestId):
        await use_cases.create("acme", ["one", "two"], QUALITY, "key-1")
    assert (store.batches, store.items) == ({}, {})


async def test_get_finds_only_the_tenants_own_batch(batches: BatchUseCases) -> None:
    batch = await batches.create("acme", ["one"], QUALITY)
    assert await batches.get("acme", batch.id) == batch
    with pytest.raises(NotFound) as caught:
        await batches.get("globex", batch.id)
    assert caught.value.reason is ErrorReason.BATCH_NOT_FOUND
    with pytest.raises(InvalidArgument):
        await batches.get("acme", "bad\x00id")


async def test_lists_page_through_the_tenants_batches_newest_first_with_filters(
    batches: BatchUseCases, clock: FakeClock
) -> None:
    ids = []
    for i in range(5):
        kind = QUALITY if i % 2 == 0 else SENTIMENT
        ids.append((await batches.create("acme", [f"text {i}"], kind)).id)
        clock.advance(1)
    await batches.create("globex", ["theirs"], QUALITY)
    await batches.cancel("acme", ids[0])
    seen, token, totals = [], "", []
    while True:
        page = await batches.list("acme", ListQuery(BatchFilter(), 2, page_token=token))
        seen += [b.id for b in page.items]
        totals.append(page.total_size)
        if not (token := page.next_page_token):
            break
    assert seen == ids[::-1]
    assert totals == [5, 5, 5]
    quality = await batches.list("acme", ListQuery(BatchFilter(analysis_type=QUALITY)))
    assert [b.id for b in quality.items] == [ids[4], ids[2], ids[0]]
    cancelled = await batches.list("acme", ListQuery(BatchFilter(status=BatchStatus.CANCELLED)))
    assert ([b.id for b in cancelled.items], cancelled.total_size) == ([ids[0]], 1)


async def test_cancel_stops_the_pending_items_and_a_finished_batch_cannot_be_cancelled(
    batches: BatchUseCases, store: FakeStorage, clock: FakeClock
) -> None:
    batch = await batches.create("acme", ["one", "two"], QUALITY)
    clock.advance(5)
    cancelled = await batches.cancel("acme", batch.id)
    assert cancelled.status is BatchStatus.CANCELLED
    assert cancelled.complete_time == cancelled.update_time == clock.now
    assert {i.state for i in store.items.values()} == {ItemState.CANCELLED}
    with pytest.raises(FailedPrecondition) as caught:
        await batches.cancel("acme", batch.id)
    assert caught.value.reason is ErrorReason.BATCH_FINISHED
    assert caught.value.metadata == {"status": "CANCELLED"}
    with pytest.raises(NotFound):
        await batches.cancel("globex", batch.id)
    assert store.batches[batch.id] == cancelled


def progress(store: FakeStorage, batch_id: str, **changes: object) -> None:
    """Another replica's worker moves the batch on."""
    store.batches[batch_id] = dataclasses.replace(store.batches[batch_id], **changes)  # type: ignore[arg-type]


async def test_watch_yields_the_snapshot_then_each_change_and_ends_when_finished(
    batches: BatchUseCases, store: FakeStorage
) -> None:
    batch = await batches.create("acme", ["one", "two"], QUALITY)
    watch = aiter(batches.watch("acme", batch.id))
    assert (await anext(watch)).status is BatchStatus.PENDING
    waiting = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0.02)  # several polls see nothing new
    assert not waiting.done()
    progress(store, batch.id, status=BatchStatus.RUNNING, completed_count=1)
    seen = await asyncio.wait_for(waiting, 5)
    assert (seen.status, seen.completed_count) == (BatchStatus.RUNNING, 1)
    progress(store, batch.id, status=BatchStatus.COMPLETED, completed_count=1, failed_count=1)
    last = await asyncio.wait_for(anext(watch), 5)
    assert (last.status, last.failed_count) == (BatchStatus.COMPLETED, 1)
    with pytest.raises(StopAsyncIteration):
        await anext(watch)


async def test_watching_a_finished_or_unknown_batch(batches: BatchUseCases) -> None:
    batch = await batches.create("acme", ["one"], QUALITY)
    await batches.cancel("acme", batch.id)
    assert [b.status async for b in batches.watch("acme", batch.id)] == [BatchStatus.CANCELLED]
    with pytest.raises(NotFound):
        await anext(aiter(batches.watch("globex", batch.id)))
