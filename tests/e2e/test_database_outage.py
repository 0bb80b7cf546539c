"""While the database refuses connections, calls fail fast with UNAVAILABLE, then recover."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest
from helpers.auth import authed_channel, server_settings
from helpers.databases import admin_execute, temporary_database
from helpers.rpc import reason

from server.app import Application
from textlens.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc


async def _refuse_connections(database: str, refuse: bool) -> None:
    await admin_execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(not refuse).lower()}')
    if refuse:
        await admin_execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
        )


async def test_calls_fail_fast_with_unavailable_and_recover_when_the_database_returns() -> None:
    async with temporary_database() as url:
        database = url.rsplit("/", 1)[1]
        app = Application(server_settings(database_url=url), migrate_schema=True)
        await app.start()
        try:
            async with authed_channel(app.port) as channel:
                stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
                request = analysis_service_pb2.CreateAnalysisRequest(
                    text="Still here?", analysis_type=analysis_pb2.ANALYSIS_TYPE_SENTIMENT
                )
                kept = await stub.CreateAnalysis(request)

                await _refuse_connections(database, refuse=True)
                # The deadline turns a hang into DEADLINE_EXCEEDED, so the code check below
                # also proves the call failed fast (the server's connect timeout is 3 s).
                for call in (
                    stub.CreateAnalysis(request, timeout=10),
                    stub.GetAnalysis(
                        analysis_service_pb2.GetAnalysisRequest(id=kept.id), timeout=10
                    ),
                    stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest(), timeout=10),
                ):
                    with pytest.raises(grpc.aio.AioRpcError) as caught:
                        await call
                    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
                    assert reason(caught.value) == "STORAGE_UNAVAILABLE"
                    assert caught.value.details() == "the database is unavailable; retry later"

                await _refuse_connections(database, refuse=False)
                created = await stub.CreateAnalysis(request)
                listing = await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
                assert {a.id for a in listing.analyses} == {kept.id, created.id}
        finally:
            await _refuse_connections(database, refuse=False)
            await app.stop(0)
