"""The Redis result cache shared by replicas, and group commit of concurrent creates."""

from __future__ import annotations

import asyncio
from pathlib import Path

from helpers.auth import authed_channel, server_settings
from helpers.databases import admin_fetchval, temporary_database
from helpers.redis import redis_server
from sqlalchemy import text

from server.adapters.db.engine import create_engine
from server.app import Application
from textlens.v1 import analysis_service_pb2, analysis_service_pb2_grpc

REQUEST = analysis_service_pb2.CreateAnalysisRequest(text="Cache me if you can.", analysis_type=1)


def lookups(app: Application, outcome: str) -> float:
    return float(app.metrics.cache.labels(outcome)._value.get())


async def test_replicas_share_results_through_redis_and_carry_on_when_it_dies(
    tmp_path: Path,
) -> None:
    with redis_server(tmp_path) as redis:
        apps = [
            Application(
                server_settings(
                    database_url=f"sqlite+aiosqlite:///{tmp_path / f'{name}.sqlite'}",
                    redis_url=redis.url,
                    batch_workers=0,
                )
            )
            for name in ("a", "b")
        ]
        for app in apps:
            await app.start()
        try:
            first, second = apps
            async with authed_channel(first.port) as channel:
                made = await analysis_service_pb2_grpc.AnalysisServiceStub(channel).CreateAnalysis(
                    REQUEST
                )
            async with authed_channel(second.port) as channel:
                again = await analysis_service_pb2_grpc.AnalysisServiceStub(channel).CreateAnalysis(
                    REQUEST
                )
            assert (lookups(first, "miss"), lookups(second, "hit")) == (1, 1)
            assert again.id != made.id, "every analysis is stored as its own row"
            assert again.sentiment == made.sentiment
            # A hit reports the time the analysis took, not a telltale zero.
            assert again.processing_time_ms == made.processing_time_ms > 0
            redis.kill()
            async with authed_channel(second.port) as channel:
                stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
                after = await stub.CreateAnalysis(REQUEST, timeout=10)
            assert after.sentiment == made.sentiment
        finally:
            for app in apps:
                await app.stop(0)


async def test_concurrent_creates_share_transactions() -> None:
    async with temporary_database() as url:
        # 300 calls at once on one connection: more streams than a connection takes by
        # default, which is not what is tested here.
        settings = server_settings(
            database_url=url, batch_workers=0, max_streams_per_connection=1000
        )
        app = Application(settings, migrate_schema=True)
        await app.start()
        database = url.rsplit("/", 1)[1]
        # Every INSERT statement takes 50 ms, so that calls arrive while a flush is under
        # way whatever the speed of the machine: what is tested is that they then share
        # the next one, not how the server's speed compares with the database's.
        await _execute(
            url,
            """CREATE FUNCTION slow_insert() RETURNS trigger AS $$
               BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$ LANGUAGE plpgsql""",
            """CREATE TRIGGER slow_insert AFTER INSERT ON analyses
               FOR EACH STATEMENT EXECUTE FUNCTION slow_insert()""",
        )
        try:
            commits_before = int(
                await admin_fetchval(
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", database
                )  # type: ignore[arg-type]
            )
            async with authed_channel(app.port) as channel:
                stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
                requests = [
                    analysis_service_pb2.CreateAnalysisRequest(text=f"Row {i}.", analysis_type=1)
                    for i in range(300)
                ]
                created = await asyncio.gather(*(stub.CreateAnalysis(r) for r in requests))
                listing = await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
            await asyncio.sleep(0.6)  # pg_stat counters are published every 500 ms
            commits = int(
                await admin_fetchval(
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", database
                )  # type: ignore[arg-type]
            )
        finally:
            await app.stop(0)
    assert len({a.id for a in created}) == 300
    assert listing.total_size == 300
    # Each caller was answered after its row was committed, in far fewer transactions
    # than calls (the count also includes the health checks' and listing's).
    assert commits - commits_before < 100


async def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def test_a_result_cache_size_of_zero_analyses_every_text_again(tmp_path: Path) -> None:
    with redis_server(tmp_path) as redis:
        app = Application(
            server_settings(
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'off.sqlite'}",
                redis_url=redis.url,
                result_cache_size=0,
                batch_workers=0,
            )
        )
        await app.start()
        try:
            async with authed_channel(app.port) as channel:
                stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
                made = [await stub.CreateAnalysis(REQUEST) for _ in range(3)]
            assert (lookups(app, "hit"), lookups(app, "miss")) == (0, 0)
            assert len({analysis.sentiment.SerializeToString() for analysis in made}) == 1
            # Each was analysed afresh: three timings, not one remembered.
            assert len({analysis.processing_time_ms for analysis in made}) > 1
        finally:
            await app.stop(0)
