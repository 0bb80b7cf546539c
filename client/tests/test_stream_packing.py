"""analyze_stream's packing, ordering and in-flight bound, over a fake in-memory call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc.aio
import pytest

import textlens
from textlens._streaming import AsyncSource, SyncSource, chunk_source, run_stream
from textlens.v1 import analysis_pb2, analysis_service_pb2

SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT


class EchoCall:
    """Answers each request message with one result per item, like the server."""

    def __init__(self, answer: Any = None) -> None:
        self.answers: asyncio.Queue[Any] = asyncio.Queue()
        self.messages: list[analysis_service_pb2.AnalyzeStreamRequest] = []
        self.cancelled = False
        self.answer = answer or self.echo

    @staticmethod
    def echo(
        request: analysis_service_pb2.AnalyzeStreamRequest,
    ) -> analysis_service_pb2.AnalyzeStreamResponse:
        response = analysis_service_pb2.AnalyzeStreamResponse()
        for item in request.items:
            result = response.results.add(ref=item.ref)
            result.analysis.text = item.text
        return response

    async def write(self, request: analysis_service_pb2.AnalyzeStreamRequest) -> None:
        self.messages.append(request)
        await self.answers.put(self.answer(request))

    async def done_writing(self) -> None:
        await self.answers.put(grpc.aio.EOF)  # type: ignore[attr-defined]

    async def read(self) -> Any:
        return await self.answers.get()

    def cancel(self) -> bool:
        self.cancelled = True
        return True


async def collect(call: EchoCall, texts: Any, **options: Any) -> list[textlens.StreamResult]:
    options = {"batch_size": 100, "max_in_flight": 1000, **options}
    return [
        result
        async for result in run_stream(
            lambda: call, chunk_source(texts, 0.01), analysis_type=SENTIMENT, **options
        )
    ]


async def test_texts_are_packed_batch_size_to_a_message_and_come_back_in_order() -> None:
    call = EchoCall()
    results = await collect(call, [f"text {i}" for i in range(250)])
    assert [len(m.items) for m in call.messages] == [100, 100, 50]
    assert [r.index for r in results] == list(range(250))
    assert [r.ref for r in results] == [str(i) for i in range(250)]
    assert results[249].analysis is not None
    assert results[249].analysis.text == "text 249"
    assert all(item.analysis_type == SENTIMENT for m in call.messages for item in m.items)


async def test_ref_text_pairs_keep_the_callers_refs() -> None:
    results = await collect(EchoCall(), [("row-7", "hello"), "plain", ("row-9", "bye")])
    assert [(r.index, r.ref) for r in results] == [(0, "row-7"), (1, "1"), (2, "row-9")]


async def test_a_message_holds_at_most_about_a_mebibyte_of_text() -> None:
    call = EchoCall()
    await collect(call, ["x" * 300_000 for _ in range(10)])
    sizes = [len(m.items) for m in call.messages]
    assert sizes == [4, 4, 2]


async def test_items_in_flight_never_exceed_the_bound() -> None:
    pulled = 0
    received = 0
    worst = 0

    def texts() -> Iterator[str]:
        nonlocal pulled, worst
        for i in range(10_000):
            pulled += 1
            worst = max(worst, pulled - received)
            yield f"text {i}"

    call = EchoCall()
    async for _ in run_stream(
        lambda: call,
        chunk_source(texts(), 0.01),
        analysis_type=SENTIMENT,
        batch_size=100,
        max_in_flight=500,
    ):
        received += 1
    assert received == 10_000
    assert worst <= 500


async def test_an_item_error_is_a_result_and_the_stream_goes_on() -> None:
    def answer(request: Any) -> analysis_service_pb2.AnalyzeStreamResponse:
        response = EchoCall.echo(request)
        response.results[1].error.code = 3
        response.results[1].error.message = "text: empty"
        return response

    results = await collect(EchoCall(answer), ["a", " ", "c"])
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, textlens.InvalidArgument)
    assert results[1].analysis is None


async def test_a_message_level_error_raises() -> None:
    def answer(request: Any) -> analysis_service_pb2.AnalyzeStreamResponse:
        response = analysis_service_pb2.AnalyzeStreamResponse()
        response.error.code = 3
        response.error.message = "too many items"
        return response

    call = EchoCall(answer)
    with pytest.raises(textlens.InvalidArgument, match="too many items"):
        await collect(call, ["a"])
    assert call.cancelled


async def test_a_result_count_mismatch_is_a_protocol_error() -> None:
    def answer(request: Any) -> analysis_service_pb2.AnalyzeStreamResponse:
        response = EchoCall.echo(request)
        del response.results[-1]
        return response

    with pytest.raises(textlens.ProtocolError, match="2 items with 1 results"):
        await collect(EchoCall(answer), ["a", "b"])


async def test_a_failing_input_ends_the_stream_with_its_own_error() -> None:
    def texts() -> Iterator[str]:
        yield "fine"
        raise OSError("disk gone")

    call = EchoCall()
    with pytest.raises(OSError, match="disk gone"):
        await collect(call, texts(), batch_size=1, max_in_flight=1)
    assert call.cancelled


async def test_an_input_that_is_not_text_is_refused() -> None:
    with pytest.raises(TypeError, match="input 1"):
        await collect(EchoCall(), ["fine", 42])
    with pytest.raises(TypeError, match="single text"):
        chunk_source("one text", 0.01)


async def test_an_async_source_sends_a_partial_message_when_the_input_pauses() -> None:
    gate = asyncio.Event()

    async def texts() -> AsyncIterator[str]:
        yield "first"
        yield "second"
        await gate.wait()
        yield "third"

    call = EchoCall()
    seen: list[str] = []
    async for result in run_stream(
        lambda: call,
        chunk_source(texts(), 0.01),
        analysis_type=SENTIMENT,
        batch_size=100,
        max_in_flight=1000,
    ):
        seen.append(result.ref)
        if len(seen) == 2:
            gate.set()
    assert seen == ["0", "1", "2"]
    assert [len(m.items) for m in call.messages] == [2, 1]


async def test_sources_are_chosen_by_the_kind_of_iterable() -> None:
    async def agen() -> AsyncIterator[str]:
        yield "x"

    assert isinstance(chunk_source(["x"], 0.01), SyncSource)
    assert isinstance(chunk_source(agen(), 0.01), AsyncSource)


@pytest.mark.parametrize(("batch_size", "max_in_flight"), [(0, 10), (1001, 2000), (10, 0)])
async def test_out_of_range_options_are_refused(batch_size: int, max_in_flight: int) -> None:
    with pytest.raises(ValueError, match="must"):
        await collect(EchoCall(), ["a"], batch_size=batch_size, max_in_flight=max_in_flight)
