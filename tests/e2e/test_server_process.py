"""The server as a real process: logging, request ids, and graceful shutdown on signals."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.auth import authed_channel
from helpers.process import ServerProcess


@pytest.fixture
def server_process(tmp_path: Path) -> ServerProcess:
    return ServerProcess(
        {"TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"}, cwd=tmp_path
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_turns_health_not_serving_then_exits_zero(
    server_process: ServerProcess, sig: signal.Signals
) -> None:
    with server_process:
        async with authed_channel(server_process.target) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service="textlens.v1.AnalysisService")
            )
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            server_process.signal(sig)
            second = await asyncio.wait_for(watch.read(), 10)
            assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
            watch.cancel()
        assert await asyncio.to_thread(server_process.wait) == 0


async def test_each_call_is_logged_once_as_json_with_its_request_id(
    server_process: ServerProcess,
) -> None:
    with server_process:
        async with authed_channel(server_process.target) as channel:
            call = channel.unary_unary("/textlens.v1.BatchService/GetBatch")(
                b"", metadata=(("x-request-id", "log-test-1"),)
            )  # an empty request: no id, so INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError):
                await call
    records = [r for r in server_process.log_records() if r.get("request_id") == "log-test-1"]
    assert len(records) == 1
    record = records[0]
    assert record["event"] == "rpc"
    assert record["method"] == "/textlens.v1.BatchService/GetBatch"
    assert record["code"] == "INVALID_ARGUMENT"
    assert record["duration_ms"] >= 0
    assert record["level"] == "info"


async def test_ctrl_c_prints_one_line_saying_it_stopped_cleanly(
    server_process: ServerProcess,
) -> None:
    with server_process:
        async with authed_channel(server_process.target) as channel:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        before = len(server_process.stderr_lines)
        server_process.signal(signal.SIGINT)
        assert await asyncio.to_thread(server_process.wait) == 0
    after = server_process.stderr_lines[before:]
    assert [json.loads(line)["event"] for line in after] == ["stopped cleanly"]
