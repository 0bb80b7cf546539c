"""BatchService through a real port, on SQLite and PostgreSQL: the calls and their rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest
from helpers.auth import authed_channel, server_settings
from helpers.databases import database_url, fetch_all
from helpers.rpc import reason, violations

from server.app import Application
from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_pb2,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT
EMOTION = analysis_pb2.ANALYSIS_TYPE_EMOTION


class Stubs:
    def __init__(self, channel: grpc.aio.Channel, url: str) -> None:
        self.batches = batch_service_pb2_grpc.BatchServiceStub(channel)
        self.analyses = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        self.url = url

    async def wait_finished(self, batch_id: str) -> batch_pb2.Batch:
        snapshots = [
            s
            async for s in self.batches.WatchBatch(batch_service_pb2.WatchBatchRequest(id=batch_id))
        ]
        return snapshots[-1]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def stubs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stubs]:
    async with database_url(request.param, tmp_path_factory.mktemp("batches")) as url:
        app = Application(
            server_settings(
                database_url=url,
                max_text_chars=100,
                max_batch_texts=50,
                batch_poll_seconds=0.1,
                analyzers={"emotion": "helpers.fakes:ExplodingEmotionAnalyzer"},
            ),
            migrate_schema=True,
        )
        await app.start()
        try:
            async with authed_channel(app.port) as channel:
                yield Stubs(channel, url)
        finally:
            await app.stop(0)


def create(
    texts: list[str], kind: int = SENTIMENT, request_id: str = ""
) -> batch_service_pb2.CreateBatchRequest:
    return batch_service_pb2.CreateBatchRequest(
        texts=texts, analysis_type=kind, request_id=request_id
    )


async def test_a_batch_is_pending_at_once_and_completes_with_one_result_per_text(
    stubs: Stubs,
) -> None:
    texts = [f"Text {i} is wonderful." for i in range(20)]
    batch = await stubs.batches.CreateBatch(create(texts))
    assert batch.status == batch_pb2.BATCH_STATUS_PENDING
    assert (batch.total_count, batch.completed_count, batch.failed_count) == (20, 0, 0)
    final = await stubs.wait_finished(batch.id)
    assert final.status == batch_pb2.BATCH_STATUS_COMPLETED
    assert (final.completed_count, final.failed_count) == (20, 0)
    assert final.complete_time.seconds > 0
    results = await stubs.analyses.ListAnalyses(
        analysis_service_pb2.ListAnalysesRequest(batch_id=batch.id, page_size=100)
    )
    assert results.total_size == 20
    assert sorted(a.text for a in results.analyses) == sorted(texts)
    assert {a.batch_id for a in results.analyses} == {batch.id}


async def test_a_batchs_results_carry_their_index_and_list_in_input_order(
    stubs: Stubs,
) -> None:
    # Shuffled words, so that no other order (time, id, text) happens to be input order.
    texts = [f"Item {(i * 17) % 45} is {'good' if i % 2 else 'bad'}." for i in range(45)]
    batch = await stubs.batches.CreateBatch(create(texts))
    await stubs.wait_finished(batch.id)
    seen: list[analysis_pb2.Analysis] = []
    token = ""
    while True:
        page = await stubs.analyses.ListAnalyses(
            analysis_service_pb2.ListAnalysesRequest(
                batch_id=batch.id, page_size=10, page_token=token
            )
        )
        seen += page.analyses
        token = page.next_page_token
        if not token:
            break
    assert [a.batch_item for a in seen] == list(range(45))
    assert [a.text for a in seen] == texts
    newest_last = await stubs.analyses.ListAnalyses(
        analysis_service_pb2.ListAnalysesRequest(
            batch_id=batch.id, order_by="batch_item desc", page_size=5
        )
    )
    assert [a.batch_item for a in newest_last.analyses] == [44, 43, 42, 41, 40]


async def test_batch_item_is_unset_outside_batches_and_no_order_outside_a_batch(
    stubs: Stubs,
) -> None:
    single = await stubs.analyses.CreateAnalysis(
        analysis_service_pb2.CreateAnalysisRequest(text="Alone.", analysis_type=SENTIMENT)
    )
    assert not single.HasField("batch_item")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.analyses.ListAnalyses(
            analysis_service_pb2.ListAnalysesRequest(order_by="batch_item")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(caught.value) == "ORDER_BY_INVALID"


async def test_invalid_texts_are_named_by_index_and_nothing_is_stored(stubs: Stubs) -> None:
    before = await fetch_all(stubs.url, "SELECT count(*) FROM batches")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.batches.CreateBatch(create(["fine", "  ", "fine", "x" * 101]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(caught.value) == [("texts[1]", "TEXT_EMPTY"), ("texts[3]", "TEXT_TOO_LONG")]
    assert await fetch_all(stubs.url, "SELECT count(*) FROM batches") == before


@pytest.mark.parametrize(
    ("texts", "kind", "expected"),
    [
        ([], SENTIMENT, [("texts", "BATCH_EMPTY")]),
        (["t"] * 51, SENTIMENT, [("texts", "BATCH_TOO_LARGE")]),
        (["t"], 0, [("analysis_type", "ANALYSIS_TYPE_MISSING")]),
    ],
)
async def test_an_empty_oversized_or_untyped_batch_is_invalid(
    stubs: Stubs, texts: list[str], kind: int, expected: list[tuple[str, str]]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.batches.CreateBatch(create(texts, kind))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(caught.value) == expected


async def test_request_id_makes_create_batch_idempotent(stubs: Stubs) -> None:
    first = await stubs.batches.CreateBatch(create(["a good day", "a bad day"], request_id="b-1"))
    again = await stubs.batches.CreateBatch(create([" a good day", "a bad day "], request_id="b-1"))
    assert again.id == first.id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.batches.CreateBatch(create(["a good day"], request_id="b-1"))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    rows = await fetch_all(stubs.url, "SELECT count(*) FROM batches WHERE request_id = 'b-1'")
    assert rows == [(1,)]


async def test_concurrent_retries_store_one_batch(stubs: Stubs) -> None:
    results = await asyncio.gather(
        *(
            stubs.batches.CreateBatch(create(["same texts"] * 3, request_id="b-race"))
            for _ in range(8)
        )
    )
    assert len({b.id for b in results}) == 1


async def test_a_batch_whose_every_item_failed_is_failed(stubs: Stubs) -> None:
    batch = await stubs.batches.CreateBatch(create(["boom", "boom boom"], EMOTION))
    final = await stubs.wait_finished(batch.id)
    assert final.status == batch_pb2.BATCH_STATUS_FAILED
    assert (final.completed_count, final.failed_count) == (0, 2)
    results = await stubs.analyses.ListAnalyses(
        analysis_service_pb2.ListAnalysesRequest(batch_id=batch.id)
    )
    for analysis in results.analyses:
        assert analysis.status == analysis_pb2.ANALYSIS_STATUS_FAILED
        assert analysis.error_message == "the analyzer could not process this text"


async def test_a_batch_with_some_failed_items_completes_and_counts_them(stubs: Stubs) -> None:
    batch = await stubs.batches.CreateBatch(create(["boom", "a joyful day"], EMOTION))
    final = await stubs.wait_finished(batch.id)
    assert final.status == batch_pb2.BATCH_STATUS_COMPLETED
    assert (final.completed_count, final.failed_count) == (1, 1)


async def test_get_and_cancel_of_unknown_batches_are_not_found(stubs: Stubs) -> None:
    for call in (
        stubs.batches.GetBatch(
            batch_service_pb2.GetBatchRequest(id="01a216e9-f3a9-732c-b1ac-82eb49e64a59")
        ),
        stubs.batches.CancelBatch(batch_service_pb2.CancelBatchRequest(id="nope")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert reason(caught.value) == "BATCH_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as watch_error:
        async for _ in stubs.batches.WatchBatch(batch_service_pb2.WatchBatchRequest(id="nope")):
            pass
    assert watch_error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_cancelling_a_finished_batch_is_a_failed_precondition(stubs: Stubs) -> None:
    batch = await stubs.batches.CreateBatch(create(["Done quickly."]))
    await stubs.wait_finished(batch.id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.batches.CancelBatch(batch_service_pb2.CancelBatchRequest(id=batch.id))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(caught.value) == "BATCH_FINISHED"


async def test_watch_sends_the_current_snapshot_and_ends_after_the_finished_one(
    stubs: Stubs,
) -> None:
    batch = await stubs.batches.CreateBatch(create([f"Watch text {i}." for i in range(40)]))
    snapshots = [
        s async for s in stubs.batches.WatchBatch(batch_service_pb2.WatchBatchRequest(id=batch.id))
    ]
    assert snapshots[0].id == batch.id
    done = [s.completed_count + s.failed_count for s in snapshots]
    assert done == sorted(done)
    assert snapshots[-1].status == batch_pb2.BATCH_STATUS_COMPLETED
    assert all(s.status != batch_pb2.BATCH_STATUS_COMPLETED for s in snapshots[:-1])


async def test_list_batches_pages_and_filters(stubs: Stubs) -> None:
    created = [await stubs.batches.CreateBatch(create([f"list {i}"], EMOTION)) for i in range(5)]
    seen: list[str] = []
    request = batch_service_pb2.ListBatchesRequest(page_size=2, analysis_type=EMOTION)
    while True:
        page = await stubs.batches.ListBatches(request)
        seen += [b.id for b in page.batches]
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    assert set(seen) >= {b.id for b in created}
    assert len(seen) == len(set(seen)) == page.total_size
    assert all(b.analysis_type == EMOTION for b in page.batches)


async def test_a_batch_with_a_text_in_another_language_is_refused_whole(stubs: Stubs) -> None:
    texts = ["Great service.", "Me encanta este producto, funciona muy bien.", "Awful."]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.batches.CreateBatch(create(texts))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(caught.value) == "LANGUAGE_UNSUPPORTED"
    assert [field for field, _ in violations(caught.value)] == ["texts[1]"]


async def test_a_batch_stating_english_is_analysed_as_english_with_confidence_one(
    stubs: Stubs,
) -> None:
    request = create(["Me encanta.", "Great service, friendly staff."])
    request.language_code = "en-US"
    batch = await stubs.batches.CreateBatch(request)
    await stubs.wait_finished(batch.id)
    page = await stubs.analyses.ListAnalyses(
        analysis_service_pb2.ListAnalysesRequest(batch_id=batch.id)
    )
    assert sorted((a.language, a.language_confidence) for a in page.analyses) == [
        ("en-US", 1.0),
        ("en-US", 1.0),
    ]
