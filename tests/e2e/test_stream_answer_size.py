"""A stream message whose answer would be over the send limit is refused, nothing stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from helpers.auth import authed_channel, make_token, server_settings

from server.app import Application
from server.transport.grpc_server import MAX_MESSAGE_BYTES
from textlens.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc

ITEMS = 1_000
# 10,000 characters in 50 sentences: each comes back twice (the text, and its sentences).
LONG = ("A long and rather pleasant sentence about the weather and the sea. " * 3)[:199] + "."
TEXT = ((LONG + " ") * 50)[:10_000]


def message(texts: list[str], prefix: str) -> analysis_service_pb2.AnalyzeStreamRequest:
    return analysis_service_pb2.AnalyzeStreamRequest(
        items=[
            analysis_service_pb2.AnalyzeStreamItem(
                ref=f"{prefix}-{i}", text=text, analysis_type=analysis_pb2.ANALYSIS_TYPE_SENTIMENT
            )
            for i, text in enumerate(texts)
        ]
    )


async def test_a_message_whose_answer_would_exceed_the_send_limit_is_refused_unstored(
    tmp_path: Path,
) -> None:
    app = Application(server_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    await app.start()
    try:
        big = message([TEXT] * ITEMS, "big")
        assert big.ByteSize() < MAX_MESSAGE_BYTES  # the request itself is fine
        options = [("grpc.max_receive_message_length", -1)]
        async with authed_channel(app.port, make_token("bulky"), options=options) as channel:
            stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
            queue: asyncio.Queue[analysis_service_pb2.AnalyzeStreamRequest | None] = asyncio.Queue()

            async def requests() -> AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest]:
                while (request := await queue.get()) is not None:
                    yield request

            call = stub.AnalyzeStream(requests())
            await queue.put(big)
            refused = await asyncio.wait_for(call.read(), 300)
            assert not refused.results
            assert refused.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            bad = error_details_pb2.BadRequest()
            assert any(d.Unpack(bad) for d in refused.error.details)
            assert [(v.field, v.reason) for v in bad.field_violations] == [
                ("items", "STREAM_MESSAGE_TOO_LARGE")
            ]
            assert "nothing was stored" in refused.error.message

            # The stream goes on: the same texts in smaller messages are answered.
            await queue.put(message([TEXT] * 10, "small"))
            answered = await call.read()
            assert [r.ref for r in answered.results] == [f"small-{i}" for i in range(10)]
            assert all(r.HasField("analysis") for r in answered.results)
            await queue.put(None)
            assert await call.code() == grpc.StatusCode.OK

            listing = await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
            assert listing.total_size == 10
    finally:
        await app.stop(0)
