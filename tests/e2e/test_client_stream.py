"""analyze_stream against a real server: order, per-text errors, and a bounded window."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from helpers.auth import make_token
from helpers.servers import running_server

import textlens
from textlens import AsyncClient, Client
from textlens.v1 import analysis_pb2

MAX_CHARS = 200


@pytest.fixture(scope="module")
async def target(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    directory = tmp_path_factory.mktemp("client-stream")
    async with running_server(directory, max_text_chars=MAX_CHARS, batch_workers=0) as app:
        yield f"127.0.0.1:{app.port}"


async def test_ten_thousand_texts_stream_in_order_with_a_bounded_window(target: str) -> None:
    total = 10_000
    window = 500
    pulled = 0
    received = 0
    widest = 0

    def texts() -> Iterator[tuple[str, str]]:
        nonlocal pulled, widest
        for i in range(total):
            pulled += 1
            widest = max(widest, pulled - received)
            yield f"row-{i}", f"Text {i} is rather good."

    async with AsyncClient(target, token=make_token()) as client:
        async for result in client.analyze_stream(
            texts(), analysis_type="sentiment", batch_size=100, max_in_flight=window
        ):
            assert result.ref == f"row-{received}"
            assert result.analysis is not None
            received += 1
        assert received == total
        assert widest <= window
        stored = await client.list_analyses_page(analysis_type="sentiment")
        assert stored.total_size >= total


async def test_a_bad_text_gets_its_own_error_and_the_rest_are_analysed(target: str) -> None:
    texts = ["Fine text.", "   ", "x" * (MAX_CHARS + 1), "Also fine."]
    async with AsyncClient(target, token=make_token()) as client:
        results = [r async for r in client.analyze_stream(texts, analysis_type="quality")]
    assert [r.ok for r in results] == [True, False, False, True]
    assert isinstance(results[1].error, textlens.InvalidArgument)
    assert results[1].error.reason == "TEXT_EMPTY"
    assert results[2].error is not None
    assert results[2].error.reason == "TEXT_TOO_LONG"
    assert results[3].analysis is not None
    assert results[3].analysis.status == analysis_pb2.ANALYSIS_STATUS_COMPLETED


async def test_an_async_source_is_streamed_too(target: str) -> None:
    async def texts() -> AsyncIterator[str]:
        for i in range(250):
            yield f"We feared the storm {i}."

    async with AsyncClient(target, token=make_token()) as client:
        results = [r async for r in client.analyze_stream(texts(), analysis_type="emotion")]
    assert [r.index for r in results] == list(range(250))
    assert all(r.analysis is not None and r.analysis.emotion.fear > 0 for r in results)


async def test_stopping_early_ends_the_call_and_the_client_goes_on(target: str) -> None:
    async with AsyncClient(target, token=make_token()) as client:
        results = client.analyze_stream(
            (f"Endless {i}." for i in range(1_000_000)), analysis_type="sentiment"
        )
        async for result in results:
            if result.index == 150:
                break
        await results.aclose()
        assert await client.health() == "SERVING"


async def test_the_blocking_client_streams_from_a_plain_iterable(target: str) -> None:
    def work() -> list[textlens.StreamResult]:
        with Client(target, token=make_token()) as client:
            return list(client.analyze_stream(["One.", "Two."] * 300, analysis_type="sentiment"))

    results = await asyncio.to_thread(work)
    assert len(results) == 600
    assert all(r.ok for r in results)
