"""Batches through the client library against a real server, from creation to results."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from helpers.auth import make_token
from helpers.servers import running_server

import textlens
from textlens import AsyncClient, Client
from textlens.v1 import batch_pb2


@pytest.fixture(scope="module")
async def target(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    directory = tmp_path_factory.mktemp("client-batches")
    # A batch worker stopping finishes its chunk rather than cut it off.
    async with running_server(
        directory, max_batch_texts=5000, batch_poll_seconds=0.1, stop_grace=5
    ) as app:
        yield f"127.0.0.1:{app.port}"


@pytest.fixture
async def client(target: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(target, timeout=20, token=make_token()) as client:
        yield client


async def test_a_batch_is_watched_to_completion_and_its_results_listed(
    client: AsyncClient,
) -> None:
    texts = [f"Batch text {i} is great." for i in range(30)]
    batch = await client.create_batch(texts, analysis_type="sentiment")
    assert batch.status == batch_pb2.BATCH_STATUS_PENDING
    assert batch.total_count == 30
    assert batch.request_id
    snapshots = [s async for s in client.watch_batch(batch.id, timeout=30)]
    final = snapshots[-1]
    assert final.status == batch_pb2.BATCH_STATUS_COMPLETED
    assert final.completed_count == 30
    done = [s.completed_count for s in snapshots]
    assert done == sorted(done)
    results = [a async for a in client.list_analyses(batch_id=batch.id, page_size=7)]
    assert sorted(a.text for a in results) == sorted(texts)
    assert await client.get_batch(batch.id) == final


async def test_a_finished_batch_cannot_be_cancelled(client: AsyncClient) -> None:
    batch = await client.create_batch(["Short."], analysis_type="quality")
    [*_, final] = [s async for s in client.watch_batch(batch.id, timeout=30)]
    assert final.status == batch_pb2.BATCH_STATUS_COMPLETED
    with pytest.raises(textlens.FailedPrecondition) as caught:
        await client.cancel_batch(batch.id)
    assert caught.value.reason == "BATCH_FINISHED"


async def test_a_large_batch_cancelled_at_once_ends_cancelled(client: AsyncClient) -> None:
    batch = await client.create_batch(
        [f"Text {i}." for i in range(3000)], analysis_type="sentiment"
    )
    cancelled = await client.cancel_batch(batch.id)
    assert cancelled.status == batch_pb2.BATCH_STATUS_CANCELLED
    [*_, final] = [s async for s in client.watch_batch(batch.id, timeout=30)]
    assert final.status == batch_pb2.BATCH_STATUS_CANCELLED
    assert final.completed_count < 3000


async def test_invalid_batches_name_the_bad_texts(client: AsyncClient) -> None:
    with pytest.raises(textlens.InvalidArgument) as empty:
        await client.create_batch([], analysis_type="sentiment")
    assert empty.value.reason == "BATCH_EMPTY"
    with pytest.raises(textlens.InvalidArgument) as bad:
        await client.create_batch(["fine", " ", "fine", ""], analysis_type="sentiment")
    assert [(v.field, v.reason) for v in bad.value.field_violations] == [
        ("texts[1]", "TEXT_EMPTY"),
        ("texts[3]", "TEXT_EMPTY"),
    ]


async def test_unknown_batches_are_not_found(client: AsyncClient) -> None:
    with pytest.raises(textlens.NotFound) as caught:
        await client.get_batch("no-such-batch")
    assert caught.value.reason == "BATCH_NOT_FOUND"
    with pytest.raises(textlens.NotFound):
        [s async for s in client.watch_batch("no-such-batch")]


async def test_create_batch_is_idempotent_by_request_id(client: AsyncClient) -> None:
    first = await client.create_batch(["Same."], analysis_type="emotion", request_id="batch-k")
    again = await client.create_batch(["Same."], analysis_type="emotion", request_id="batch-k")
    assert again.id == first.id
    with pytest.raises(textlens.AlreadyExists):
        await client.create_batch(["Other."], analysis_type="emotion", request_id="batch-k")


async def test_batches_are_listed_across_pages_and_by_status(client: AsyncClient) -> None:
    created = [await client.create_batch([f"L{i}."], analysis_type="quality") for i in range(5)]
    listed = [b.id async for b in client.list_batches(page_size=2, analysis_type="quality")]
    assert {b.id for b in created} <= set(listed)
    page = await client.list_batches_page(page_size=2, status="cancelled")
    assert all(b.status == batch_pb2.BATCH_STATUS_CANCELLED for b in page.batches)


async def test_the_blocking_client_watches_too(target: str) -> None:
    def work() -> batch_pb2.Batch:
        with Client(target, token=make_token()) as client:
            batch = client.create_batch(["One.", "Two."], analysis_type="sentiment")
            return list(client.watch_batch(batch.id, timeout=30))[-1]

    final = await asyncio.to_thread(work)
    assert final.status == batch_pb2.BATCH_STATUS_COMPLETED
