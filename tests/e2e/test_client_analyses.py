"""The shipped client library against a real server: analyses end to end, and its errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from helpers.auth import make_token
from helpers.servers import running_server

import textlens
from server.app import Application
from textlens import AsyncClient, Client, Retry
from textlens.v1 import analysis_pb2

MAX_CHARS = 300


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Application]:
    """A server with a database of its own, so listings see only this module's analyses."""
    directory = tmp_path_factory.mktemp("client-e2e")
    # No batch workers: batches stay PENDING here.
    async with running_server(directory, max_text_chars=MAX_CHARS, batch_workers=0) as app:
        yield app


@pytest.fixture(scope="module")
def target(server: Application) -> str:
    return f"127.0.0.1:{server.port}"


@pytest.fixture
async def client(target: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(target, timeout=20, token=make_token()) as client:
        yield client


async def test_create_get_and_delete_round_trip(client: AsyncClient) -> None:
    created = await client.create_analysis("What a lovely day!", analysis_type="sentiment")
    assert created.status == analysis_pb2.ANALYSIS_STATUS_COMPLETED
    assert created.sentiment.label == analysis_pb2.SENTIMENT_LABEL_POSITIVE
    assert created.request_id, "the client fills the idempotency key"
    assert await client.get_analysis(created.id) == created
    await client.delete_analysis(created.id)
    with pytest.raises(textlens.NotFound) as caught:
        await client.get_analysis(created.id)
    assert caught.value.reason == "ANALYSIS_NOT_FOUND"
    assert caught.value.request_id


async def test_listing_walks_several_pages_in_order(client: AsyncClient) -> None:
    texts = [f"Emotion check number {i}: we were afraid." for i in range(45)]
    created = [await client.create_analysis(t, analysis_type="emotion") for t in texts]
    listed = [
        a.id
        async for a in client.list_analyses(
            page_size=10, analysis_type="emotion", order_by="create_time"
        )
    ]
    assert listed == [a.id for a in created]
    first = await client.list_analyses_page(page_size=10, analysis_type="emotion")
    assert first.total_size == 45
    assert len(first.analyses) == 10
    assert first.next_page_token


async def test_a_retried_create_with_the_same_request_id_returns_the_first_analysis(
    client: AsyncClient,
) -> None:
    first = await client.create_analysis("Once only.", analysis_type="quality", request_id="k-1")
    again = await client.create_analysis("Once only.", analysis_type="quality", request_id="k-1")
    assert again == first


async def test_a_reused_request_id_with_another_text_already_exists(client: AsyncClient) -> None:
    await client.create_analysis("One text.", analysis_type="quality", request_id="k-2")
    with pytest.raises(textlens.AlreadyExists) as caught:
        await client.create_analysis("Another text.", analysis_type="quality", request_id="k-2")
    assert caught.value.reason == "REQUEST_ID_REUSED"


@pytest.mark.parametrize(
    ("text", "kind", "violations"),
    [
        ("   ", "sentiment", [("text", "TEXT_EMPTY")]),
        ("x" * (MAX_CHARS + 1), "sentiment", [("text", "TEXT_TOO_LONG")]),
        ("fine", 0, [("analysis_type", "ANALYSIS_TYPE_MISSING")]),
        ("", 0, [("text", "TEXT_EMPTY"), ("analysis_type", "ANALYSIS_TYPE_MISSING")]),
    ],
)
async def test_invalid_input_raises_invalid_argument_naming_each_field(
    client: AsyncClient, text: str, kind: str | int, violations: list[tuple[str, str]]
) -> None:
    with pytest.raises(textlens.InvalidArgument) as caught:
        await client.create_analysis(text, analysis_type=kind)
    error = caught.value
    assert [(v.field, v.reason) for v in error.field_violations] == violations
    assert error.reason == violations[0][1]
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert isinstance(error.__cause__, grpc.RpcError)


async def test_text_too_long_says_the_limit(client: AsyncClient) -> None:
    with pytest.raises(textlens.InvalidArgument) as caught:
        await client.create_analysis("x" * (MAX_CHARS + 1), analysis_type="quality")
    assert caught.value.metadata.get("max_chars") == str(MAX_CHARS)


async def test_bad_listing_arguments_are_invalid(client: AsyncClient) -> None:
    with pytest.raises(textlens.InvalidArgument) as negative:
        await client.list_analyses_page(page_size=-1)
    assert negative.value.reason == "PAGE_SIZE_NEGATIVE"
    with pytest.raises(textlens.InvalidArgument) as token:
        await client.list_analyses_page(page_token="forged")
    assert token.value.reason == "PAGE_TOKEN_INVALID"
    with pytest.raises(textlens.InvalidArgument) as order:
        await client.list_analyses_page(order_by="text")
    assert order.value.reason == "ORDER_BY_INVALID"


async def test_a_watch_past_its_deadline_raises_deadline_exceeded(client: AsyncClient) -> None:
    # This server runs no batch workers, so the batch stays PENDING and the watch waits.
    batch = await client.create_batch(["Never processed here."], analysis_type="sentiment")
    with pytest.raises(textlens.DeadlineExceeded) as caught:
        [s async for s in client.watch_batch(batch.id, timeout=0.3)]
    assert caught.value.attempts == 1


async def test_an_unknown_health_service_is_not_found(client: AsyncClient) -> None:
    assert await client.health() == "SERVING"
    assert await client.health("textlens.v1.AnalysisService") == "SERVING"
    with pytest.raises(textlens.NotFound):
        await client.health("no.such.Service")


async def test_no_server_at_the_target_is_unavailable_after_retrying() -> None:
    async with AsyncClient("127.0.0.1:1", retry=Retry(initial=0.01, maximum=0.05)) as client:
        with pytest.raises(textlens.Unavailable) as caught:
            await client.get_analysis("x", timeout=1)
    assert caught.value.attempts > 1


async def test_the_blocking_client_does_the_same_from_a_thread(target: str) -> None:
    def work() -> None:
        with Client(target, token=make_token()) as client:
            created = client.create_analysis("Plain and simple.", analysis_type="quality")
            assert created.quality.word_count == 3
            assert client.get_analysis(created.id).id == created.id
            ids = [a.id for a in client.list_analyses(page_size=5, analysis_type="quality")]
            assert created.id in ids
            client.delete_analysis(created.id)
            with pytest.raises(textlens.NotFound):
                client.delete_analysis(created.id)

    await asyncio.to_thread(work)
