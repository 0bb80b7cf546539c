"""A second server on a port another already serves exits at once; the first goes on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.auth import TEST_SECRET, authed_channel
from helpers.process import ServerProcess

from textlens.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def second_server(port: int, cwd: Path, secret: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TEXTLENS_PORT": str(port),
        "TEXTLENS_JWT_SECRET": secret,
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'second.sqlite'}",
        "TEXTLENS_WORKERS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "server", "serve"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def answers(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    async with authed_channel(target) as channel:
        created = await analysis_service_pb2_grpc.AnalysisServiceStub(channel).CreateAnalysis(
            analysis_service_pb2.CreateAnalysisRequest(
                text="Still here.", analysis_type=analysis_pb2.ANALYSIS_TYPE_SENTIMENT
            )
        )
        assert created.id


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_second_server_on_a_busy_port_exits_one_and_the_first_keeps_serving(
    tmp_path: Path, workers: int
) -> None:
    port = free_port()
    env = {
        "TEXTLENS_PORT": str(port),
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'first.sqlite'}",
        "TEXTLENS_BATCH_WORKERS": "0",
        "TEXTLENS_WORKERS": str(workers),
    }
    with ServerProcess(env, cwd=tmp_path) as first:
        # Another deployment's key: sharing the port would split the first one's clients.
        second = second_server(port, tmp_path, "another-deployments-secret-kP3vX9qL2mZ7")
        assert second.returncode == 1, second.stderr
        assert second.stderr == f"port {port} is already in use\n"
        # Every connection still reaches the first server (several, so that a port
        # shared with anything else would show).
        for _ in range(8):
            await answers(first.target)


async def test_a_port_held_by_another_program_is_refused(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        second = second_server(port, tmp_path, TEST_SECRET)
    assert second.returncode == 1, second.stderr
    assert second.stderr == f"port {port} is already in use\n"
