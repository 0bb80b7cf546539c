"""One budget across replicas through Redis; local budgets while Redis is down."""

from __future__ import annotations

from pathlib import Path

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.auth import authed_channel, make_token
from helpers.process import ServerProcess
from helpers.redis import redis_server

from textlens.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc

REQUEST = analysis_service_pb2.CreateAnalysisRequest(
    text="Counted once.", analysis_type=analysis_pb2.ANALYSIS_TYPE_SENTIMENT
)


def server(tmp_path: Path, redis_url: str, name: str) -> ServerProcess:
    return ServerProcess(
        {
            "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / f'{name}.sqlite'}",
            "TEXTLENS_REDIS_URL": redis_url,
            "TEXTLENS_RATE_LIMIT": "6/hour",
            "TEXTLENS_BATCH_WORKERS": "0",
        },
        cwd=tmp_path,
    )


async def creates(target: str, count: int, tenant: str = "shared") -> list[grpc.StatusCode]:
    codes = []
    async with authed_channel(target, make_token(tenant)) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        for _ in range(count):
            try:
                await stub.CreateAnalysis(REQUEST, timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as error:
                codes.append(error.code())
    return codes


async def test_two_processes_share_one_budget_through_redis(tmp_path: Path) -> None:
    with (
        redis_server(tmp_path) as redis,
        server(tmp_path, redis.url, "a") as first,
        server(tmp_path, redis.url, "b") as second,
    ):
        assert await creates(first.target, 4) == [grpc.StatusCode.OK] * 4
        # The second replica sees what the first spent: 2 of 6 are left.
        assert (
            await creates(second.target, 4)
            == [grpc.StatusCode.OK] * 2 + [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2
        )


async def test_with_redis_down_each_process_falls_back_to_its_own_budget(
    tmp_path: Path,
) -> None:
    with redis_server(tmp_path) as redis, server(tmp_path, redis.url, "a") as process:
        assert await creates(process.target, 2, tenant="before") == [grpc.StatusCode.OK] * 2
        redis.kill()
        # Calls go on, limited locally: 6 pass, the 7th is refused.
        codes = await creates(process.target, 7, tenant="during")
        assert codes == [grpc.StatusCode.OK] * 6 + [grpc.StatusCode.RESOURCE_EXHAUSTED]
        async with grpc.aio.insecure_channel(process.target) as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="textlens.v1.AnalysisService")
            )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    warnings = [
        r
        for r in process.log_records()
        if "rate limits are enforced per process" in r.get("event", "")
    ]
    assert len(warnings) == 1, "logged once a minute, not once per call"
