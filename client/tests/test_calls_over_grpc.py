"""AsyncClient against a scripted gRPC server: retries, tokens, paging, streams, watches."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import grpc.aio
import pytest
from fakeserver import REQUEST_ID, FakeServer, rate_limited, unavailable

import textlens
from textlens import AsyncClient, Retry
from textlens.v1 import batch_pb2


async def test_a_rate_limited_create_is_retried_after_the_delay_with_the_same_request_id(
    fake: FakeServer, client: AsyncClient
) -> None:
    fake.script.fail("CreateAnalysis", rate_limited(0.02), rate_limited(0.02))
    analysis = await client.create_analysis("I like it", analysis_type="sentiment")
    calls = fake.script.of("CreateAnalysis")
    assert len(calls) == 3
    keys = {call.request.request_id for call in calls}
    assert len(keys) == 1
    assert len(keys.pop()) == 32
    assert analysis.request_id == calls[0].request.request_id


async def test_a_callers_request_id_is_kept(fake: FakeServer, client: AsyncClient) -> None:
    analysis = await client.create_analysis("x", analysis_type="quality", request_id="mine-1")
    assert analysis.request_id == "mine-1"


async def test_a_rate_limit_delay_beyond_the_deadline_fails_at_once(
    fake: FakeServer, client: AsyncClient
) -> None:
    fake.script.fail("CreateAnalysis", rate_limited(30.0))
    with pytest.raises(textlens.ResourceExhausted) as caught:
        await client.create_analysis("x", analysis_type="sentiment", timeout=2)
    assert caught.value.retry_delay == 30.0
    assert caught.value.request_id == REQUEST_ID
    assert len(fake.script.of("CreateAnalysis")) == 1


async def test_reads_are_retried_while_unavailable(fake: FakeServer, client: AsyncClient) -> None:
    created = await client.create_analysis("hello", analysis_type="sentiment")
    fake.script.fail("GetAnalysis", unavailable(), unavailable())
    assert await client.get_analysis(created.id) == created
    assert len(fake.script.of("GetAnalysis")) == 3


async def test_retry_none_makes_one_attempt(fake: FakeServer, client: AsyncClient) -> None:
    fake.script.fail("GetAnalysis", unavailable())
    with pytest.raises(textlens.Unavailable) as caught:
        await client.get_analysis("a1", retry=None)
    assert caught.value.reason == "SHUTTING_DOWN"
    assert len(fake.script.of("GetAnalysis")) == 1


async def test_cancel_batch_is_never_retried(fake: FakeServer, client: AsyncClient) -> None:
    fake.script.fail("CancelBatch", unavailable())
    with pytest.raises(textlens.Unavailable):
        await client.cancel_batch("b1")
    assert len(fake.script.of("CancelBatch")) == 1


async def test_errors_keep_the_grpc_error_as_cause(client: AsyncClient) -> None:
    with pytest.raises(textlens.NotFound) as caught:
        await client.get_analysis("missing")
    assert isinstance(caught.value.__cause__, grpc.RpcError)
    assert caught.value.reason == "ANALYSIS_NOT_FOUND"


async def test_invalid_argument_names_the_bad_field(client: AsyncClient) -> None:
    with pytest.raises(textlens.InvalidArgument) as caught:
        await client.create_analysis("   ", analysis_type="sentiment")
    assert [v.field for v in caught.value.field_violations] == ["text"]


async def test_a_string_token_goes_out_as_bearer_metadata(fake: FakeServer) -> None:
    jwt = "abc.def.ghi"
    async with AsyncClient(fake.target, token=jwt) as client:
        await client.create_analysis("x", analysis_type="sentiment")
    assert fake.script.calls[-1].metadata["authorization"] == f"Bearer {jwt}"


async def test_a_token_callable_is_asked_again_for_every_attempt(fake: FakeServer) -> None:
    counter = itertools.count(1)
    fake.script.fail("ListAnalyses", unavailable(), unavailable())
    async with AsyncClient(fake.target, token=lambda: f"token-{next(counter)}") as client:
        await client.list_analyses_page()
    tokens = [call.metadata["authorization"] for call in fake.script.of("ListAnalyses")]
    assert tokens == ["Bearer token-1", "Bearer token-2", "Bearer token-3"]


async def test_default_and_per_call_metadata_are_sent(fake: FakeServer) -> None:
    async with AsyncClient(fake.target, metadata=[("x-team", "search")]) as client:
        with pytest.raises(textlens.NotFound):
            await client.get_analysis("a", metadata=[("x-request-id", "trace-1")])
    sent = fake.script.calls[-1].metadata
    assert (sent["x-team"], sent["x-request-id"]) == ("search", "trace-1")


async def test_list_analyses_walks_every_page(fake: FakeServer, client: AsyncClient) -> None:
    for i in range(45):
        await client.create_analysis(f"text {i}", analysis_type="sentiment")
    texts = [a.text async for a in client.list_analyses(page_size=20)]
    assert texts == [f"text {i}" for i in range(45)]
    assert [c.request.page_token for c in fake.script.of("ListAnalyses")] == ["", "20", "40"]
    first = await client.list_analyses_page(page_size=40)
    page = await client.list_analyses_page(page_size=40, page_token=first.next_page_token)
    assert (len(page.analyses), page.next_page_token, page.total_size) == (5, "", 45)


async def test_list_filters_take_short_names(fake: FakeServer, client: AsyncClient) -> None:
    await client.list_analyses_page(analysis_type="emotion", status="completed", batch_id="b")
    request = fake.script.of("ListAnalyses")[-1].request
    assert request.analysis_type == 3
    assert request.status == 3
    assert request.batch_id == "b"
    with pytest.raises(ValueError, match="unknown analysis type 'joy'"):
        await client.list_analyses_page(analysis_type="joy")


async def test_delete_removes(fake: FakeServer, client: AsyncClient) -> None:
    created = await client.create_analysis("bye", analysis_type="sentiment")
    await client.delete_analysis(created.id)
    assert created.id not in fake.analyses.stored


async def test_streaming_ten_thousand_texts_keeps_in_flight_items_bounded(
    fake: FakeServer, client: AsyncClient
) -> None:
    pulled = 0
    received = 0
    worst = 0

    def texts() -> Iterator[str]:
        nonlocal pulled, worst
        for i in range(10_000):
            pulled += 1
            worst = max(worst, pulled - received)
            yield f"text number {i}"

    async for result in client.analyze_stream(
        texts(), analysis_type="sentiment", batch_size=100, max_in_flight=1000
    ):
        assert result.index == received
        received += 1
    assert received == 10_000
    assert worst <= 1000
    assert set(fake.analyses.stream_messages) == {100}


async def test_a_stream_stopped_early_leaves_the_client_usable(
    fake: FakeServer, client: AsyncClient
) -> None:
    results = client.analyze_stream((f"t{i}" for i in range(100_000)), analysis_type="sentiment")
    async for result in results:
        if result.index == 10:
            break
    await results.aclose()
    assert sum(fake.analyses.stream_messages) < 100_000
    assert (await client.create_analysis("still here", analysis_type="sentiment")).id


async def test_a_watch_broken_by_unavailable_is_reopened(
    fake: FakeServer, client: AsyncClient
) -> None:
    fake.batches.break_after.extend([1, 1])
    snapshots = [s async for s in client.watch_batch("b1")]
    assert snapshots[-1].status == batch_pb2.BATCH_STATUS_COMPLETED
    assert [s.completed_count for s in snapshots] == [0, 1, 2, 3]
    assert len(fake.script.of("WatchBatch")) == 3


async def test_an_injected_channel_is_left_open(fake: FakeServer) -> None:
    async with grpc.aio.insecure_channel(fake.target) as channel:
        jwt = "t.u.v"
        async with AsyncClient(channel=channel, token=jwt) as client:
            await client.create_analysis("x", analysis_type="sentiment")
        assert fake.script.calls[-1].metadata["authorization"] == f"Bearer {jwt}"
        async with AsyncClient(channel=channel) as again:
            await again.create_analysis("y", analysis_type="sentiment")


async def test_a_closed_client_refuses_calls(fake: FakeServer) -> None:
    client = AsyncClient(fake.target)
    await client.close()
    with pytest.raises(RuntimeError, match="closed"):
        await client.get_analysis("a1")


def test_a_client_needs_exactly_one_of_target_and_channel() -> None:
    with pytest.raises(ValueError, match="target or a channel"):
        AsyncClient()


async def test_an_unreachable_server_is_unavailable_after_retries_within_the_deadline() -> None:
    async with AsyncClient("127.0.0.1:1", retry=Retry(initial=0.01, maximum=0.05)) as client:
        with pytest.raises(textlens.Unavailable) as caught:
            await client.get_analysis("a", timeout=1.0)
    assert caught.value.attempts > 1
    # The library keeps retrying, but what it finally raises is clear.
    assert caught.value.unreachable
    assert caught.value.message == "cannot reach TextLens at 127.0.0.1:1 (connection refused)"


async def test_with_a_connect_timeout_a_refused_connection_fails_at_once() -> None:
    async with AsyncClient("127.0.0.1:1", connect_timeout=5) as client:
        with pytest.raises(textlens.Unavailable) as caught:
            await client.get_analysis("a", timeout=30)
    assert caught.value.attempts == 1
    assert caught.value.unreachable


async def test_once_connected_a_connect_timeout_no_longer_stops_retries(fake: FakeServer) -> None:
    from fakeserver import unavailable  # noqa: PLC0415

    async with AsyncClient(
        fake.target, connect_timeout=5, retry=Retry(initial=0.01, maximum=0.02)
    ) as client:
        await client.create_analysis("First.", analysis_type="sentiment")
        fake.script.fail("GetAnalysis", unavailable(), unavailable())
        await client.get_analysis("a1")
    assert len(fake.script.of("GetAnalysis")) == 3


async def test_on_retry_is_told_of_each_wait(fake: FakeServer) -> None:
    from fakeserver import rate_limited  # noqa: PLC0415

    waits: list[tuple[str, float]] = []
    retry = Retry(on_retry=lambda error, seconds: waits.append((type(error).__name__, seconds)))
    fake.script.fail("CreateAnalysis", rate_limited(0.02), rate_limited(0.04))
    async with AsyncClient(fake.target, retry=retry) as client:
        await client.create_analysis("Late.", analysis_type="sentiment")
    assert [name for name, _ in waits] == ["ResourceExhausted", "ResourceExhausted"]
    assert 0.02 <= waits[0][1] <= 0.022
    assert 0.04 <= waits[1][1] <= 0.044
