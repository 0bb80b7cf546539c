"""Clients that send large stream messages and never read cannot grow the server's memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.auth import authed_channel, make_token
from helpers.process import ServerProcess

from textlens.v1 import analysis_service_pb2, analysis_service_pb2_grpc

pytestmark = pytest.mark.slow

STREAMS = 16
ITEMS = 50
TEXT = ("Plain words that go on and on. " * 400)[:10_000]  # 50 items: 0.5 MB a message
RSS_GROWTH_BOUND = 200 * 1024 * 1024
SECONDS = 8.0


def rss(pid: int) -> int:
    """The process's resident set, from /proc/<pid>/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


def _message() -> analysis_service_pb2.AnalyzeStreamRequest:
    # No analysis type: each item is refused cheaply, so the server keeps reading as fast
    # as the transport lets it, and only the transport's bounds hold memory back.
    return analysis_service_pb2.AnalyzeStreamRequest(
        items=[analysis_service_pb2.AnalyzeStreamItem(ref=str(i), text=TEXT) for i in range(ITEMS)]
    )


async def test_sixteen_streams_of_large_messages_that_never_read_keep_rss_bounded(
    tmp_path: Path,
) -> None:
    env = {
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "TEXTLENS_BATCH_WORKERS": "0",
    }
    message = _message()
    assert message.ByteSize() >= 500_000
    with ServerProcess(env, cwd=tmp_path) as server:
        token = make_token("tenant-flood")
        options = [("grpc.max_send_message_length", -1)]
        channels = [authed_channel(server.target, token, options=options) for _ in range(STREAMS)]
        try:
            warm = analysis_service_pb2_grpc.AnalysisServiceStub(channels[0]).AnalyzeStream(
                iter([message])
            )
            assert len([r async for r in warm]) == 1
            baseline = rss(server.pid)
            sent = [0] * STREAMS

            def requests(index: int) -> AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest]:
                async def generate() -> AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest]:
                    while True:
                        yield message
                        sent[index] += 1

                return generate()

            calls = [
                analysis_service_pb2_grpc.AnalysisServiceStub(channel).AnalyzeStream(
                    requests(index)
                )
                for index, channel in enumerate(channels)
            ]
            peak = baseline
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                peak = max(peak, rss(server.pid))
            # Every stream was admitted (the transport held them back, not a refusal).
            assert all(not call.done() for call in calls), [c for c in calls if c.done()]
            assert all(count > 0 for count in sent), sent
            for call in calls:
                call.cancel()
        finally:
            for channel in channels:
                await channel.close()
    growth = peak - baseline
    print(
        f"\n{STREAMS} streams sending {message.ByteSize() / 1e6:.1f} MB messages, never "
        f"reading, for {SECONDS:g} s: server RSS {baseline / 2**20:.0f} MiB, peak "
        f"{peak / 2**20:.0f} MiB (+{growth / 2**20:.0f} MiB); "
        f"{sum(sent)} messages sent in all"
    )
    assert growth < RSS_GROWTH_BOUND, f"RSS grew by {growth / 2**20:.0f} MiB"
