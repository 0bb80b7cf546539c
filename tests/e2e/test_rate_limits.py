"""Rate limits per tenant: one unit per text, whichever way it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest
from google.rpc import code_pb2, error_details_pb2
from helpers.auth import authed_channel, make_token, server_settings
from helpers.rpc import detail, reason, rich_status

from server.app import Application
from server.config import Settings
from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT


# An hour-long window: the sliding window counter weighs the previous window in, so a test
# straddling a window boundary could see budget come back; an hour makes that negligible.
@pytest.fixture
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Application]:
    db = tmp_path_factory.mktemp("limits") / "db.sqlite"
    application = Application(
        server_settings(
            database_url=f"sqlite+aiosqlite:///{db}", rate_limit="5/hour", batch_workers=0
        )
    )
    await application.start()
    yield application
    await application.stop(0)


def create(text: str = "Counted.") -> analysis_service_pb2.CreateAnalysisRequest:
    return analysis_service_pb2.CreateAnalysisRequest(text=text, analysis_type=SENTIMENT)


async def test_over_budget_is_resource_exhausted_with_retry_info_and_quota_failure(
    app: Application,
) -> None:
    async with authed_channel(app.port, make_token("busy")) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        for _ in range(5):
            await stub.CreateAnalysis(create())
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateAnalysis(create())
        listing = await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert reason(caught.value) == "RATE_LIMITED"
    status = rich_status(caught.value)
    delay = detail(status, error_details_pb2.RetryInfo).retry_delay.ToMilliseconds()
    assert 0 < delay <= 3_600_000
    # The message says which setting to change and how long to wait.
    assert status.message.startswith(
        "rate limit of 5 texts per hour (TEXTLENS_RATE_LIMIT) reached; retry in "
    ), status.message
    quota = detail(status, error_details_pb2.QuotaFailure)
    assert quota.violations[0].subject == "tenant:busy"
    assert listing.total_size == 5, "the refused text was not stored"


async def test_reads_cost_nothing_and_budgets_are_per_tenant(app: Application) -> None:
    async with (
        authed_channel(app.port, make_token("reader")) as reader,
        authed_channel(app.port, make_token("writer")) as writer,
    ):
        reads = analysis_service_pb2_grpc.AnalysisServiceStub(reader)
        for _ in range(20):
            await reads.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
        writes = analysis_service_pb2_grpc.AnalysisServiceStub(writer)
        for _ in range(5):
            await writes.CreateAnalysis(create())
        await reads.CreateAnalysis(create())  # the reader's budget is untouched


async def test_each_streamed_text_costs_one_and_the_stream_goes_on_past_the_limit(
    app: Application,
) -> None:
    items = [
        analysis_service_pb2.AnalyzeStreamItem(
            ref=str(i), text=f"Text {i}.", analysis_type=SENTIMENT
        )
        for i in range(4)
    ]
    requests = [
        analysis_service_pb2.AnalyzeStreamRequest(items=items[:3]),
        analysis_service_pb2.AnalyzeStreamRequest(items=items),
        analysis_service_pb2.AnalyzeStreamRequest(
            items=[
                analysis_service_pb2.AnalyzeStreamItem(ref="bad", text="", analysis_type=SENTIMENT)
            ]
        ),
    ]
    async with authed_channel(app.port, make_token("streamer")) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        responses = [r async for r in stub.AnalyzeStream(iter(requests))]
    first, second, third = (list(r.results) for r in responses)
    assert all(r.WhichOneof("outcome") == "analysis" for r in first)
    outcomes = [r.WhichOneof("outcome") for r in second]
    assert outcomes == ["analysis", "analysis", "error", "error"], "the budget had 2 of 4 left"
    limited = second[2].error
    assert limited.code == code_pb2.RESOURCE_EXHAUSTED
    assert detail(limited, error_details_pb2.ErrorInfo).reason == "RATE_LIMITED"
    assert detail(limited, error_details_pb2.RetryInfo).retry_delay.ToMilliseconds() > 0
    # An invalid text is rejected for what it is, and costs nothing.
    assert detail(third[0].error, error_details_pb2.ErrorInfo).reason == "TEXT_EMPTY"


async def test_a_batch_costs_its_size_when_it_is_created(app: Application) -> None:
    async with authed_channel(app.port, make_token("batcher")) as channel:
        batches = batch_service_pb2_grpc.BatchServiceStub(channel)
        await batches.CreateBatch(
            batch_service_pb2.CreateBatchRequest(
                texts=["a", "b", "c", "d"], analysis_type=SENTIMENT
            )
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await batches.CreateBatch(
                batch_service_pb2.CreateBatchRequest(texts=["e", "f"], analysis_type=SENTIMENT)
            )
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        listing = await batches.ListBatches(batch_service_pb2.ListBatchesRequest())
        assert listing.total_size == 1, "the refused batch stored nothing"
        await analysis_service_pb2_grpc.AnalysisServiceStub(channel).CreateAnalysis(create())


async def test_a_batch_larger_than_the_whole_budget_says_waiting_cannot_help(
    app: Application,
) -> None:
    async with authed_channel(app.port, make_token("huge")) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await batch_service_pb2_grpc.BatchServiceStub(channel).CreateBatch(
                batch_service_pb2.CreateBatchRequest(texts=["x"] * 6, analysis_type=SENTIMENT)
            )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rich_status(caught.value)
    assert not any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)
    assert status.message == (
        "6 texts in one request exceed the whole rate limit of 5 texts per hour "
        "(TEXTLENS_RATE_LIMIT); send at most 5 per request or raise the limit"
    )


async def test_the_default_configuration_accepts_the_largest_batch_it_allows(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    defaults = Settings.model_fields
    db = tmp_path_factory.mktemp("defaults") / "db.sqlite"
    application = Application(
        server_settings(
            database_url=f"sqlite+aiosqlite:///{db}",
            rate_limit=defaults["rate_limit"].default,
            batch_workers=0,
        )
    )
    await application.start()
    try:
        async with authed_channel(application.port, make_token("developer")) as channel:
            batches = batch_service_pb2_grpc.BatchServiceStub(channel)
            largest = defaults["max_batch_texts"].default
            for _ in range(2):  # and again at once: nothing to wait for
                batch = await batches.CreateBatch(
                    batch_service_pb2.CreateBatchRequest(
                        texts=[f"Review {i}." for i in range(largest)], analysis_type=SENTIMENT
                    )
                )
                assert batch.total_count == largest
    finally:
        await application.stop(0)


async def test_a_replay_is_charged_one_unit_before_its_request_id_is_looked_up(
    app: Application,
) -> None:
    async with authed_channel(app.port, make_token("retrier")) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        request = analysis_service_pb2.CreateAnalysisRequest(
            text="Once.", analysis_type=SENTIMENT, request_id="only-once"
        )
        first = await stub.CreateAnalysis(request)
        for _ in range(4):
            assert (await stub.CreateAnalysis(request)).id == first.id
        # Storage lookups are never free: past the budget, a replay waits like a create.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateAnalysis(request)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        listing = await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
        assert listing.total_size == 1


async def test_a_batch_replay_costs_one_unit_not_its_size(app: Application) -> None:
    async with authed_channel(app.port, make_token("batch-retrier")) as channel:
        batches = batch_service_pb2_grpc.BatchServiceStub(channel)
        request = batch_service_pb2.CreateBatchRequest(
            texts=["a", "b", "c"], analysis_type=SENTIMENT, request_id="batch-once"
        )
        first = await batches.CreateBatch(request)
        again = await batches.CreateBatch(request)  # 3 + 1 of 5 units
        assert again.id == first.id
        await batches.CreateBatch(request)  # the fifth unit
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await batches.CreateBatch(request)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
