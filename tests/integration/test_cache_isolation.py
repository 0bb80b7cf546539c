"""The result cache, through a real server, in process memory and in a real Redis: one
tenant's entries are invisible to another (no hit, so no faster answer and no telltale
field), hold no text, and go when their analysis is deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio
from helpers.auth import authed_channel, make_token, server_settings
from helpers.redis import redis_server

from server.app import Application
from textlens.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc

A = analysis_service_pb2
SECRET_TEXT = (
    "Project Zanzibar acquires Quibblecorp on Friday. The board approved it. "
    "Quibblecorp quibblecorp quibblecorp stays CONFIDENTIAL!!!!"
)
SECRET_WORDS = ("Zanzibar", "Quibblecorp", "quibblecorp", "board approved", "CONFIDENTIAL")
KINDS = (
    analysis_pb2.ANALYSIS_TYPE_SENTIMENT,
    analysis_pb2.ANALYSIS_TYPE_QUALITY,
    analysis_pb2.ANALYSIS_TYPE_EMOTION,
)


@pytest.fixture(params=["memory", "redis"])
async def app(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Application]:
    database = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    if request.param == "memory":
        application = Application(server_settings(database_url=database, batch_workers=0))
        await application.start()
        yield application
        await application.stop(0)
        return
    with redis_server(tmp_path) as server:
        application = Application(
            server_settings(database_url=database, redis_url=server.url, batch_workers=0)
        )
        await application.start()
        yield application
        await application.stop(0)


def lookups(app: Application) -> tuple[int, int]:
    cache = app.metrics.cache
    return int(cache.labels("hit")._value.get()), int(cache.labels("miss")._value.get())


async def create(app: Application, tenant: str, text: str, kind: int) -> analysis_pb2.Analysis:
    async with authed_channel(app.port, make_token(tenant)) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        return await stub.CreateAnalysis(A.CreateAnalysisRequest(text=text, analysis_type=kind))


async def test_another_tenant_never_hits_an_entry_and_sees_nothing_that_tells(
    app: Application,
) -> None:
    originals = [await create(app, "owner", SECRET_TEXT, kind) for kind in KINDS]
    before = lookups(app)
    # The prober sends the owner's text among guesses, in one stream, as an attacker would.
    guesses = [f"Project Zanzibar acquires Quibblecorp on day {i}." for i in range(30)]
    items = [
        A.AnalyzeStreamItem(ref=str(i), text=text, analysis_type=kind)
        for i, text in enumerate([*guesses, SECRET_TEXT])
        for kind in KINDS
    ]
    async with authed_channel(app.port, make_token("prober")) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        (response,) = [
            r async for r in stub.AnalyzeStream(iter([A.AnalyzeStreamRequest(items=items)]))
        ]
    hits, misses = (after - then for after, then in zip(lookups(app), before, strict=True))
    assert (hits, misses) == (0, len(items)), "every probe was analysed afresh"
    results = [r.analysis for r in response.results]
    assert all(r.processing_time_ms > 0 for r in results)
    for original, probe in zip(originals, results[-3:], strict=True):
        assert probe.WhichOneof("result") == original.WhichOneof("result")


async def test_the_owner_gets_a_hit_reporting_the_original_analysis_time(
    app: Application,
) -> None:
    first = await create(app, "owner", SECRET_TEXT, KINDS[0])
    before = lookups(app)
    again = await create(app, "owner", SECRET_TEXT, KINDS[0])
    assert lookups(app)[0] == before[0] + 1
    assert again.processing_time_ms == first.processing_time_ms > 0
    assert again.sentiment == first.sentiment


async def test_deleting_an_analysis_removes_its_cached_result(app: Application) -> None:
    made = await create(app, "owner", SECRET_TEXT, KINDS[1])
    async with authed_channel(app.port, make_token("owner")) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        await stub.DeleteAnalysis(A.DeleteAnalysisRequest(id=made.id))
    before = lookups(app)
    await create(app, "owner", SECRET_TEXT, KINDS[1])
    assert lookups(app) == (before[0], before[1] + 1), "analysed again, not served from cache"


async def test_redis_holds_no_text_and_loses_the_entry_on_delete(tmp_path: Path) -> None:
    with redis_server(tmp_path) as server:
        app = Application(
            server_settings(
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
                redis_url=server.url,
                batch_workers=0,
            )
        )
        await app.start()
        client = redis.asyncio.Redis.from_url(server.url)
        try:
            made = [await create(app, "owner", SECRET_TEXT, kind) for kind in KINDS]
            keys = await client.keys("textlens:result:*")
            assert len(keys) == len(KINDS)
            dump = b"".join([*keys, *[await client.get(key) or b"" for key in keys]])
            for word in (*SECRET_WORDS, "owner"):
                assert word.encode() not in dump, word
            for sentence in made[0].sentiment.sentences:
                assert sentence.text.encode() not in dump
            async with authed_channel(app.port, make_token("owner")) as channel:
                stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
                await stub.DeleteAnalysis(A.DeleteAnalysisRequest(id=made[0].id))
            assert len(await client.keys("textlens:result:*")) == len(KINDS) - 1
        finally:
            await client.aclose()
            await app.stop(0)
