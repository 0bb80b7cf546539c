"""Inputs at and past every limit, odd metadata, and texts that look like attacks."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest
from helpers.auth import authed_channel, make_token, server_settings
from helpers.rpc import reason

from server.app import Application
from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

TYPES = (
    analysis_pb2.ANALYSIS_TYPE_SENTIMENT,
    analysis_pb2.ANALYSIS_TYPE_QUALITY,
    analysis_pb2.ANALYSIS_TYPE_EMOTION,
)


@pytest.fixture(scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Application]:
    db = tmp_path_factory.mktemp("edges") / "db.sqlite"
    application = Application(
        server_settings(database_url=f"sqlite+aiosqlite:///{db}", batch_workers=0)
    )
    await application.start()
    yield application
    await application.stop(0)


@pytest.fixture
async def stub(app: Application) -> AsyncIterator[analysis_service_pb2_grpc.AnalysisServiceStub]:
    # A client that may send large messages: the server's limits are what is under test.
    async with authed_channel(
        app.port,
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
    ) as channel:
        yield analysis_service_pb2_grpc.AnalysisServiceStub(channel)


def create(text: str, kind: int = TYPES[0]) -> analysis_service_pb2.CreateAnalysisRequest:
    return analysis_service_pb2.CreateAnalysisRequest(text=text, analysis_type=kind)


@pytest.mark.parametrize("kind", TYPES)
async def test_a_text_of_exactly_the_limit_is_analysed_and_one_more_is_not(
    stub: analysis_service_pb2_grpc.AnalysisServiceStub, kind: int
) -> None:
    words = ("Plain words that go on. " * 500)[:10_000]
    assert (
        await stub.CreateAnalysis(create(words, kind))
    ).status == analysis_pb2.ANALYSIS_STATUS_COMPLETED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateAnalysis(create(words + "x", kind))
    assert reason(caught.value) == "TEXT_TOO_LONG"


@pytest.mark.parametrize(
    "text",
    ["a" * 10_000, "!" * 10_000, " a" * 5_000, "😍" * 10_000, "\u0301" * 10_000, "ا" * 10_000],
    ids=["letter", "bang", "spaced", "emoji", "combining", "arabic"],
)
async def test_deeply_repeated_characters_are_analysed_by_every_analyzer(
    stub: analysis_service_pb2_grpc.AnalysisServiceStub, text: str
) -> None:
    # Stated as English: a run of one Arabic letter is not detected as English, and the
    # point here is that every analyzer gets through it.
    for kind in TYPES:
        request = create(text, kind)
        request.language_code = "en"
        analysis = await stub.CreateAnalysis(request, timeout=60)
        assert analysis.status == analysis_pb2.ANALYSIS_STATUS_COMPLETED


async def test_sql_and_markup_are_stored_verbatim(
    stub: analysis_service_pb2_grpc.AnalysisServiceStub,
) -> None:
    for text in (
        "'; DROP TABLE analyses; --",
        "Robert'); DELETE FROM batches;--",
        "<b>x</b>\\x00%s",
    ):
        created = await stub.CreateAnalysis(create(text))
        fetched = await stub.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id=created.id))
        assert fetched.text == text
    assert (await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())).total_size > 0


async def test_a_message_over_the_size_limit_is_refused_before_decoding(
    app: Application, stub: analysis_service_pb2_grpc.AnalysisServiceStub
) -> None:
    five_mib = create("x" * (5 * 2**20))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateAnalysis(five_mib)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # decoded, then too long
    huge = create("x" * (17 * 2**20))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateAnalysis(huge)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_ten_thousand_texts_of_ten_thousand_characters_are_refused_by_size(
    app: Application,
) -> None:
    texts = ["y" * 10_000] * 10_000  # about 100 MB
    async with authed_channel(app.port, options=[("grpc.max_send_message_length", -1)]) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await batch_service_pb2_grpc.BatchServiceStub(channel).CreateBatch(
                batch_service_pb2.CreateBatchRequest(texts=texts, analysis_type=TYPES[0]),
                timeout=120,
            )
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        listing = await batch_service_pb2_grpc.BatchServiceStub(channel).ListBatches(
            batch_service_pb2.ListBatchesRequest()
        )
    assert listing.total_size == 0


async def test_odd_and_oversized_metadata_is_refused_or_ignored(app: Application) -> None:
    token = make_token()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        request = analysis_service_pb2.ListAnalysesRequest()
        # Binary metadata with arbitrary bytes (not UTF-8) is carried, and ignored.
        binary = (("authorization", f"Bearer {token}"), ("x-request-id-bin", os.urandom(64)))
        await stub.ListAnalyses(request, metadata=binary)
        # A token in binary metadata is not a token.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListAnalyses(request, metadata=(("authorization-bin", os.urandom(40)),))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Metadata past gRPC's size limit is refused before any handler runs.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListAnalyses(request, metadata=(("x-padding", "p" * 20_000),))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # Metadata under the limit is read every time: gRPC's defaults refuse a random
        # share of requests between 8 and 16 KiB.
        for _ in range(20):
            padded = (("authorization", f"Bearer {token}"), ("x-padding", "p" * 12_000))
            await stub.ListAnalyses(request, metadata=padded)
        # A huge bearer value is just an invalid token.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListAnalyses(request, metadata=(("authorization", "Bearer " + "A" * 8000),))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # And the server is fine afterwards.
        await stub.ListAnalyses(request, metadata=(("authorization", f"Bearer {token}"),))
