"""AnalysisService through a real port, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest
from helpers.auth import authed_channel, server_settings
from helpers.databases import database_url
from helpers.rpc import reason, violations

from server.app import Application
from textlens.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc

SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT
QUALITY = analysis_pb2.ANALYSIS_TYPE_QUALITY
EMOTION = analysis_pb2.ANALYSIS_TYPE_EMOTION
Stub = analysis_service_pb2_grpc.AnalysisServiceStub


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def stub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stub]:
    """A server with an empty database of its own, so listings see only this module's rows."""
    async with database_url(request.param, tmp_path_factory.mktemp("e2e")) as url:
        app = Application(
            server_settings(database_url=url, max_text_chars=500),
            migrate_schema=True,
        )
        await app.start()
        try:
            async with authed_channel(app.port) as channel:
                yield Stub(channel)
        finally:
            await app.stop(0)


def create(
    text: str, kind: int = SENTIMENT, request_id: str = ""
) -> analysis_service_pb2.CreateAnalysisRequest:
    return analysis_service_pb2.CreateAnalysisRequest(
        text=text, analysis_type=kind, request_id=request_id
    )


async def test_create_returns_a_completed_analysis_with_its_result(stub: Stub) -> None:
    analysis = await stub.CreateAnalysis(create("  I love this. It works great!  "))
    assert analysis.id
    assert analysis.text == "I love this. It works great!"
    assert analysis.status == analysis_pb2.ANALYSIS_STATUS_COMPLETED
    assert analysis.WhichOneof("result") == "sentiment"
    assert analysis.sentiment.label == analysis_pb2.SENTIMENT_LABEL_POSITIVE
    assert [s.offset for s in analysis.sentiment.sentences] == [0, 13]
    assert analysis.sentiment.analyzer.name
    assert analysis.processing_time_ms > 0
    assert analysis.create_time.seconds > 0
    assert analysis.process_time.ToDatetime() >= analysis.create_time.ToDatetime()
    assert analysis.update_time == analysis.process_time


async def test_each_type_sets_its_own_result(stub: Stub) -> None:
    quality = await stub.CreateAnalysis(create("The cat sat on the mat. It was happy.", QUALITY))
    emotion = await stub.CreateAnalysis(create("We screamed in fear and horror.", EMOTION))
    assert quality.WhichOneof("result") == "quality"
    assert quality.quality.word_count == 9
    assert emotion.WhichOneof("result") == "emotion"
    assert emotion.emotion.fear > 0
    assert emotion.emotion.dominant != analysis_pb2.EMOTION_UNSPECIFIED


async def test_get_returns_what_create_stored(stub: Stub) -> None:
    created = await stub.CreateAnalysis(create("A calm, ordinary day.", QUALITY))
    fetched = await stub.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id=created.id))
    assert fetched == created


async def test_delete_removes_the_analysis_and_a_second_delete_is_not_found(stub: Stub) -> None:
    created = await stub.CreateAnalysis(create("Short lived."))
    await stub.DeleteAnalysis(analysis_service_pb2.DeleteAnalysisRequest(id=created.id))
    with pytest.raises(grpc.aio.AioRpcError) as get_error:
        await stub.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id=created.id))
    assert get_error.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason(get_error.value) == "ANALYSIS_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as delete_error:
        await stub.DeleteAnalysis(analysis_service_pb2.DeleteAnalysisRequest(id=created.id))
    assert delete_error.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "unknown_id", ["01a216e9-f3a9-732c-b1ac-82eb49e64a59", "not-a-uuid", "x" * 64]
)
async def test_get_of_an_unknown_id_is_not_found(stub: Stub, unknown_id: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id=unknown_id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_empty_id_is_invalid(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id=""))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(caught.value) == [("id", "ID_MISSING")]


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (create(""), [("text", "TEXT_EMPTY")]),
        (create(" \n\t "), [("text", "TEXT_EMPTY")]),
        (create("x" * 501), [("text", "TEXT_TOO_LONG")]),
        (create("fine", kind=0), [("analysis_type", "ANALYSIS_TYPE_MISSING")]),
        (create("fine", kind=42), [("analysis_type", "ANALYSIS_TYPE_UNKNOWN")]),
        (create("fine", request_id="r" * 129), [("request_id", "REQUEST_ID_INVALID")]),
        (create("", kind=0), [("text", "TEXT_EMPTY"), ("analysis_type", "ANALYSIS_TYPE_MISSING")]),
    ],
)
async def test_invalid_creates_name_every_bad_field_and_store_nothing(
    stub: Stub,
    request_: analysis_service_pb2.CreateAnalysisRequest,
    expected: list[tuple[str, str]],
) -> None:
    before = (await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())).total_size
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateAnalysis(request_)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(caught.value) == expected
    assert reason(caught.value) == expected[0][1]
    after = (await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())).total_size
    assert after == before


async def test_text_at_the_limit_is_accepted_after_trimming(stub: Stub) -> None:
    analysis = await stub.CreateAnalysis(create("   " + "a" * 500 + "   ", QUALITY))
    assert len(analysis.text) == 500


async def test_a_retry_with_the_same_request_id_returns_the_stored_analysis(stub: Stub) -> None:
    first = await stub.CreateAnalysis(create("Retry me, please.", request_id="retry-1"))
    second = await stub.CreateAnalysis(create("  Retry me, please. ", request_id="retry-1"))
    assert second == first
    listing = await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest(page_size=100))
    assert sum(a.request_id == "retry-1" for a in listing.analyses) == 1


async def test_the_same_request_id_with_another_payload_already_exists(stub: Stub) -> None:
    await stub.CreateAnalysis(create("Original text.", request_id="reuse-1"))
    for other in (
        create("Other text.", request_id="reuse-1"),
        create("Original text.", QUALITY, "reuse-1"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateAnalysis(other)
        assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert reason(caught.value) == "REQUEST_ID_REUSED"


async def test_concurrent_retries_with_one_request_id_store_exactly_one_analysis(
    stub: Stub,
) -> None:
    results = await asyncio.gather(
        *(stub.CreateAnalysis(create("Concurrent retry.", request_id="race-1")) for _ in range(16))
    )
    assert len({r.id for r in results}) == 1
    listing = await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest(page_size=100))
    assert sum(a.request_id == "race-1" for a in listing.analyses) == 1


async def test_an_analyzer_failure_is_stored_as_failed_and_leaks_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('failing') / 'db.sqlite'}"
    app = Application(
        server_settings(
            database_url=url,
            analyzers={"emotion": "helpers.fakes:ExplodingEmotionAnalyzer"},
        )
    )
    await app.start()
    try:
        async with authed_channel(app.port) as channel:
            stub = Stub(channel)
            failed = await stub.CreateAnalysis(create("boom goes the text", EMOTION))
            assert failed.status == analysis_pb2.ANALYSIS_STATUS_FAILED
            assert failed.WhichOneof("result") is None
            assert failed.error_message == "the analyzer could not process this text"
            fetched = await stub.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id=failed.id))
            assert fetched == failed
    finally:
        await app.stop(0)


async def test_an_analysis_states_the_language_it_was_analysed_as(stub: Stub) -> None:
    english = await stub.CreateAnalysis(create("The staff were friendly and the room was clean."))
    assert english.language == "en" and english.language_confidence > 0.9
    short = await stub.CreateAnalysis(create("lol 👍"))
    assert (short.language, short.language_confidence) == ("en", 0.0)
    fetched = await stub.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id=english.id))
    assert (fetched.language, fetched.language_confidence) == (
        english.language,
        english.language_confidence,
    )


async def test_a_text_in_another_language_is_refused_naming_text(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateAnalysis(create("Das Produkt ist super, ich bin sehr zufrieden."))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(caught.value) == "LANGUAGE_UNSUPPORTED"
    assert [field for field, _ in violations(caught.value)] == ["text"]


async def test_a_stated_language_is_taken_and_a_malformed_one_refused(stub: Stub) -> None:
    request = create("Das Produkt ist super, ich bin sehr zufrieden.")
    request.language_code = "EN"
    stated = await stub.CreateAnalysis(request)
    assert (stated.language, stated.language_confidence) == ("en", 1.0)
    request.language_code = "en_US"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateAnalysis(request)
    assert reason(caught.value) == "FIELD_INVALID"
    assert [field for field, _ in violations(caught.value)] == ["language_code"]
