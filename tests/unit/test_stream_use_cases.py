"""The stream use case against in-memory fakes: order, storage before answers, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from helpers.fakes import (
    FakeClock,
    FakeMetrics,
    FakeQualityAnalyzer,
    FakeRateLimiter,
    FakeStorage,
    FakeUnitOfWork,
    units_of_work,
)

from server.domain.errors import ErrorReason, InvalidArgument, Unavailable
from server.domain.model import AnalysisType
from server.service.analyst import Analyst
from server.service.streaming import (
    MAX_ITEMS_PER_MESSAGE,
    NOT_STORED,
    ItemOutcome,
    MessageOutcome,
    StreamItem,
    StreamUseCases,
)

QUALITY = AnalysisType.QUALITY


@pytest.fixture
def streams(
    store: FakeStorage, clock: FakeClock, metrics: FakeMetrics, limiter: FakeRateLimiter
) -> StreamUseCases:
    return StreamUseCases(
        units_of_work(store),
        Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}, clock=clock),
        max_text_chars=20,
        limiter=limiter,
        metrics=metrics,
    )


def message(*texts: str) -> list[StreamItem]:
    return [StreamItem(f"ref-{text}", text, QUALITY) for text in texts]


async def source(*messages: Sequence[StreamItem]) -> AsyncIterator[Sequence[StreamItem]]:
    for items in messages:
        yield items


def items_of(outcome: MessageOutcome) -> list[ItemOutcome]:
    assert not isinstance(outcome, InvalidArgument)
    return outcome


async def test_each_message_is_answered_in_order_only_once_its_results_are_stored(
    streams: StreamUseCases, store: FakeStorage, metrics: FakeMetrics, clock: FakeClock
) -> None:
    sent = [message(*(f"m{m} text {i}" for i in range(3))) for m in range(4)]
    answered = []
    async for outcome in streams.analyze_stream("acme", source(*sent)):
        items = items_of(outcome)
        for item in items:
            assert item.analysis is not None and item.analysis.id in store.analyses
        answered.append([(o.ref, o.analysis.text) for o in items if o.analysis is not None])
    assert answered == [[(i.ref, i.text) for i in items] for items in sent]
    assert len(metrics.stored) == len(store.analyses) == 12
    assert {a.create_time for a in store.analyses.values()} == {clock.now}


@pytest.mark.parametrize(
    ("count", "reason"),
    [
        (0, ErrorReason.STREAM_MESSAGE_EMPTY),
        (MAX_ITEMS_PER_MESSAGE + 1, ErrorReason.STREAM_MESSAGE_TOO_LARGE),
    ],
)
async def test_an_empty_or_oversized_message_is_refused_whole_and_the_stream_goes_on(
    streams: StreamUseCases,
    store: FakeStorage,
    limiter: FakeRateLimiter,
    count: int,
    reason: ErrorReason,
) -> None:
    bad = message(*(f"t{i}" for i in range(count)))
    outcomes = [o async for o in streams.analyze_stream("acme", source(bad, message("after")))]
    refused, after = outcomes
    assert isinstance(refused, InvalidArgument)
    assert [v.reason for v in refused.violations] == [reason]
    assert [o.analysis is not None for o in items_of(after)] == [True]
    assert len(store.analyses) == 1
    assert limiter.events == ["charge 1"], "a refused message costs nothing"


async def test_a_message_of_invalid_items_only_opens_no_transaction(
    streams: StreamUseCases, store: FakeStorage
) -> None:
    outcomes = [o async for o in streams.analyze_stream("acme", source(message("", "x" * 21)))]
    reasons = [o.error.reason for o in items_of(outcomes[0]) if o.error is not None]
    assert reasons == [ErrorReason.TEXT_EMPTY, ErrorReason.TEXT_TOO_LONG]
    assert store.commits == 0


async def test_while_storage_is_down_every_item_says_so_and_the_stream_goes_on(
    streams: StreamUseCases, store: FakeStorage, metrics: FakeMetrics
) -> None:
    store.unavailable = True
    sent = (message("one", ""), message("two"))
    outcomes = [items_of(o) async for o in streams.analyze_stream("acme", source(*sent))]
    errors = [[type(o.error) for o in items] for items in outcomes]
    assert errors == [[Unavailable, InvalidArgument], [Unavailable]]
    assert metrics.stored == []


async def test_a_row_the_database_refuses_fails_its_item_alone(
    streams: StreamUseCases, store: FakeStorage, metrics: FakeMetrics
) -> None:
    store.refused.add("unstorable")
    (outcome,) = [
        items_of(o)
        async for o in streams.analyze_stream(
            "acme", source(message("fine", "unstorable", "", "also fine"))
        )
    ]
    assert [o.error for o in outcome][1] is NOT_STORED
    assert isinstance(outcome[2].error, InvalidArgument)
    stored = sorted(a.text for a in store.analyses.values())
    assert stored == ["also fine", "fine"]
    assert sorted(a.text for a in metrics.stored) == stored


async def test_storage_going_down_while_rows_are_stored_one_by_one_fails_the_rest(
    store: FakeStorage, clock: FakeClock
) -> None:
    store.refused.add("unstorable")
    opened = 0

    def units() -> FakeUnitOfWork:
        # The message's statement is refused, then its first row alone; then storage is down.
        nonlocal opened
        opened += 1
        store.unavailable = opened > 2
        return FakeUnitOfWork(store)

    streams = StreamUseCases(
        units,
        Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}, clock=clock),
        max_text_chars=20,
    )
    outcome = await streams.store(
        await streams.analyze_message("acme", message("unstorable", "fine"))
    )
    refused, later = items_of(outcome)
    assert refused.error is NOT_STORED
    assert isinstance(later.error, Unavailable)
    assert store.analyses == {}


async def test_an_error_reading_the_stream_reaches_the_caller_after_earlier_answers(
    streams: StreamUseCases, store: FakeStorage
) -> None:
    async def broken() -> AsyncIterator[Sequence[StreamItem]]:
        yield message("first")
        raise ConnectionResetError("client went away")

    answered: list[MessageOutcome] = []

    async def consume() -> None:
        async for outcome in streams.analyze_stream("acme", broken()):
            answered.append(outcome)

    with pytest.raises(ConnectionResetError):
        await consume()
    assert len(answered) == 1 and len(store.analyses) == 1


async def test_a_client_that_stops_reading_stops_the_server_reading_its_messages(
    streams: StreamUseCases, store: FakeStorage
) -> None:
    pulled = 0

    async def endless() -> AsyncIterator[Sequence[StreamItem]]:
        nonlocal pulled
        while True:
            pulled += 1
            yield message(f"text {pulled}")

    answers = aiter(streams.analyze_stream("acme", endless()))
    await anext(answers)
    await asyncio.sleep(0.05)  # the client reads nothing more
    assert pulled <= 5, "only a pipeline's depth of messages is read ahead"
    await answers.aclose()  # type: ignore[attr-defined]
    stored = len(store.analyses)
    await asyncio.sleep(0.01)
    assert len(store.analyses) == stored, "no store runs on after the stream is closed"
    assert stored >= 1


async def test_a_tenants_streams_take_turns_while_another_tenants_stream_goes_on(
    streams: StreamUseCases, store: FakeStorage
) -> None:
    answer_held = asyncio.Event()

    async def held(outcome: MessageOutcome) -> MessageOutcome:
        await answer_held.wait()
        return outcome

    async def as_is(outcome: MessageOutcome) -> MessageOutcome:
        return outcome

    first = aiter(streams.answer_stream("noisy", source(message("one")), held))
    first_answer = asyncio.ensure_future(anext(first))
    await asyncio.sleep(0.01)  # its message holds the tenant's one turn until answered
    second = aiter(streams.answer_stream("noisy", source(message("two")), as_is))
    second_answer = asyncio.ensure_future(anext(second))
    other = aiter(streams.answer_stream("quiet", source(message("three")), as_is))

    answered = items_of(await asyncio.wait_for(anext(other), 1))
    assert answered[0].analysis is not None and answered[0].analysis.text == "three"
    assert not second_answer.done(), "the same tenant's other stream waits its turn"
    assert sorted(a.text for a in store.analyses.values()) == ["one", "three"]

    answer_held.set()
    assert items_of(await asyncio.wait_for(first_answer, 1))[0].ref == "ref-one"
    assert items_of(await asyncio.wait_for(second_answer, 1))[0].ref == "ref-two"
    for stream in (first, second, other):
        await stream.aclose()  # type: ignore[attr-defined]
