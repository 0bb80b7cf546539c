"""AnalyzeStream through a real port: order, per-item errors, storage, cancellation, deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import grpc
import grpc.aio
import pytest
from google.rpc import code_pb2, error_details_pb2
from helpers.auth import authed_channel, server_settings
from helpers.databases import admin_fetchval, database_url
from helpers.rpc import detail

from server.app import Application
from textlens.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc

SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT
Stub = analysis_service_pb2_grpc.AnalysisServiceStub


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Application, Stub, str]]:
    async with database_url(request.param, tmp_path_factory.mktemp("stream")) as url:
        app = Application(
            server_settings(database_url=url, max_text_chars=200),
            migrate_schema=True,
        )
        await app.start()
        try:
            async with authed_channel(app.port) as channel:
                yield app, Stub(channel), url
        finally:
            await app.stop(0)


def message(*items: tuple[str, str, int]) -> analysis_service_pb2.AnalyzeStreamRequest:
    return analysis_service_pb2.AnalyzeStreamRequest(
        items=[
            analysis_service_pb2.AnalyzeStreamItem(ref=ref, text=text, analysis_type=kind)
            for ref, text, kind in items
        ]
    )


async def total(stub: Stub) -> int:
    return (await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())).total_size


async def test_every_item_gets_one_result_with_its_ref_in_request_order(
    served: tuple[Application, Stub, str],
) -> None:
    _, stub, _ = served
    before = await total(stub)
    requests = [
        message(*((f"m{m}-{i}", f"Text {m}.{i} is lovely.", SENTIMENT) for i in range(50)))
        for m in range(20)
    ]
    responses = [r async for r in stub.AnalyzeStream(iter(requests))]
    assert len(responses) == 20
    refs = [result.ref for response in responses for result in response.results]
    assert refs == [f"m{m}-{i}" for m in range(20) for i in range(50)]
    assert all(r.WhichOneof("outcome") == "analysis" for resp in responses for r in resp.results)
    assert await total(stub) == before + 1000


async def test_a_bad_item_gets_an_error_like_a_unary_call_and_the_stream_goes_on(
    served: tuple[Application, Stub, str],
) -> None:
    _, stub, _ = served
    before = await total(stub)
    responses = [
        r
        async for r in stub.AnalyzeStream(
            iter(
                [
                    message(("ok-1", "Fine words.", SENTIMENT), ("empty", "   ", SENTIMENT)),
                    message(("long", "x" * 201, SENTIMENT), ("untyped", "Fine.", 0)),
                    message(("ok-2", "Still going.", SENTIMENT)),
                ]
            )
        )
    ]
    outcomes = {r.ref: r for response in responses for r in response.results}
    assert outcomes["ok-1"].analysis.status == analysis_pb2.ANALYSIS_STATUS_COMPLETED
    assert outcomes["ok-2"].analysis.status == analysis_pb2.ANALYSIS_STATUS_COMPLETED
    for ref, reason in (
        ("empty", "TEXT_EMPTY"),
        ("long", "TEXT_TOO_LONG"),
        ("untyped", "ANALYSIS_TYPE_MISSING"),
    ):
        error = outcomes[ref].error
        assert error.code == code_pb2.INVALID_ARGUMENT
        assert detail(error, error_details_pb2.ErrorInfo).reason == reason
        assert detail(error, error_details_pb2.BadRequest).field_violations
    assert await total(stub) == before + 2


async def test_an_empty_or_oversized_message_is_rejected_alone(
    served: tuple[Application, Stub, str],
) -> None:
    _, stub, _ = served
    too_many = message(*((str(i), "word", SENTIMENT) for i in range(1001)))
    responses = [
        r
        async for r in stub.AnalyzeStream(
            iter([message(), too_many, message(("after", "Still served.", SENTIMENT))])
        )
    ]
    assert len(responses) == 3
    reasons = [detail(r.error, error_details_pb2.ErrorInfo).reason for r in responses[:2]]
    assert reasons == ["STREAM_MESSAGE_EMPTY", "STREAM_MESSAGE_TOO_LARGE"]
    assert [list(r.results) for r in responses[:2]] == [[], []]
    assert responses[2].results[0].ref == "after"


async def test_one_item_per_message_works_too(served: tuple[Application, Stub, str]) -> None:
    _, stub, _ = served
    requests = [message((str(i), f"Item {i} is good.", SENTIMENT)) for i in range(30)]
    responses = [r async for r in stub.AnalyzeStream(iter(requests))]
    assert [r.results[0].ref for r in responses] == [str(i) for i in range(30)]


def _call_tasks() -> set[str]:
    """Tasks serving calls in this (test) process: grpc's per-call tasks and the stream's own."""
    return {
        f"{task.get_name()} {task.get_coro().__qualname__}"  # type: ignore[union-attr]
        for task in asyncio.all_tasks()
        if task.get_name().startswith(("rpc_task", "HandleExceptions[", "textlens-"))
    }


async def _open_transactions(url: str) -> int:
    """Transactions left open ('idle in transaction') on a PostgreSQL test database.

    A group-commit flush still under way is between its statements for a moment, so
    the count is taken again for up to five seconds: only a transaction nobody
    finishes stays open that long.
    """
    if not url.startswith("postgresql"):
        return 0
    for _ in range(100):
        count = int(
            await admin_fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
                "AND state LIKE 'idle in transaction%'",
                url.rsplit("/", 1)[1],
            )
        )
        if count == 0:
            break
        await asyncio.sleep(0.05)
    return count


async def _settle() -> set[str]:
    """The call tasks still running once the server has had up to five seconds to clean up."""
    for _ in range(100):
        if not _call_tasks():
            break
        await asyncio.sleep(0.05)
    return _call_tasks()


async def test_a_cancelled_stream_leaves_no_task_or_transaction_and_keeps_what_was_answered(
    served: tuple[Application, Stub, str],
) -> None:
    _, stub, url = served
    before = await total(stub)

    def endless() -> Iterator[analysis_service_pb2.AnalyzeStreamRequest]:
        i = 0
        while True:
            yield message(*((f"{i}-{j}", f"Endless text {i} {j}.", SENTIMENT) for j in range(20)))
            i += 1

    call = stub.AnalyzeStream(endless())
    answered = 0
    async for response in call:
        answered += len(response.results)
        if answered >= 200:
            call.cancel()
            break
    assert await _settle() == set()
    assert await _open_transactions(url) == 0
    assert await total(stub) - before >= answered


async def test_an_expired_deadline_ends_the_stream_cleanly(
    served: tuple[Application, Stub, str],
) -> None:
    _, stub, url = served

    async def slow() -> AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest]:
        for i in range(5):
            yield message((str(i), "A patient text.", SENTIMENT))
        await asyncio.sleep(30)  # then nothing more until the deadline has passed

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.AnalyzeStream(slow(), timeout=0.5):
            pass
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert await _settle() == set()
    assert await _open_transactions(url) == 0


async def test_an_item_in_another_language_gets_its_own_error_and_the_stream_goes_on(
    served: tuple[Application, Stub, str],
) -> None:
    _, stub, _ = served
    stated = analysis_service_pb2.AnalyzeStreamItem(
        ref="stated", text="Me encanta.", analysis_type=SENTIMENT, language_code="en"
    )
    request = message(
        ("es", "Me encanta este producto, funciona muy bien.", SENTIMENT),
        ("en", "The room was clean and the staff were friendly.", SENTIMENT),
    )
    request.items.append(stated)
    responses = [r async for r in stub.AnalyzeStream(iter([request]))]
    outcomes = {r.ref: r for response in responses for r in response.results}
    error = outcomes["es"].error
    assert error.code == code_pb2.INVALID_ARGUMENT
    assert detail(error, error_details_pb2.ErrorInfo).reason == "LANGUAGE_UNSUPPORTED"
    assert [v.field for v in detail(error, error_details_pb2.BadRequest).field_violations] == [
        "text"
    ]
    assert outcomes["en"].analysis.language == "en"
    assert outcomes["stated"].analysis.language_confidence == 1.0
