"""A client that sends 100,000 texts and stops reading cannot make the server buffer them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
from helpers.auth import authed_channel
from helpers.process import ServerProcess

from textlens.v1 import analysis_service_pb2, analysis_service_pb2_grpc

MESSAGES = 1_000
ITEMS = 100  # 100,000 texts in all
# Generous: the server holds a couple of messages in its pipeline and gRPC's windows
# hold a few MB; buffering the stream would cost well over 100 MB.
RSS_GROWTH_BOUND = 40 * 1024 * 1024


async def test_a_slow_reader_keeps_the_servers_memory_bounded(tmp_path: Path) -> None:
    env = {
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "TEXTLENS_BATCH_WORKERS": "0",
    }
    with ServerProcess(env, cwd=tmp_path) as server:
        process = psutil.Process(server.pid)
        async with authed_channel(server.target) as channel:
            stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
            warm = stub.AnalyzeStream(iter([_message(0)]))
            assert len([r async for r in warm]) == 1
            baseline = process.memory_info().rss
            sent = 0

            async def requests() -> AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest]:
                nonlocal sent
                for i in range(MESSAGES):
                    yield _message(i)
                    sent += 1

            call = stub.AnalyzeStream(requests())
            received = 0
            peak = baseline
            async for _ in call:
                received += 1
                if received == 10:
                    # Stop reading: the server must stop reading too, and the client's
                    # sender must come to rest long before it has sent everything. On a
                    # busy machine it may take a while to fill the windows: wait until
                    # nothing more has gone out for two seconds.
                    last, quiet = sent, 0.0
                    for _ in range(120):
                        await asyncio.sleep(0.25)
                        peak = max(peak, process.memory_info().rss)
                        quiet = quiet + 0.25 if sent == last else 0.0
                        last = sent
                        if quiet >= 2:
                            break
                    assert quiet >= 2, "the client kept sending while nobody read"
                    assert sent < MESSAGES, sent
                    break
            call.cancel()
    assert peak - baseline < RSS_GROWTH_BOUND, (peak - baseline) / 2**20


def _message(i: int) -> analysis_service_pb2.AnalyzeStreamRequest:
    return analysis_service_pb2.AnalyzeStreamRequest(
        items=[
            analysis_service_pb2.AnalyzeStreamItem(
                ref=f"{i}-{j}",
                text=f"Message {i}, text {j}: short, plain and rather pleasant to read.",
                analysis_type=1,
            )
            for j in range(ITEMS)
        ]
    )
