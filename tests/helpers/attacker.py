"""A hostile tenant, run in a process of its own so that its client work is not the victim's.

    python -m helpers.attacker TARGET PHASE SECONDS

Prints "ready" once connected, runs one attack for SECONDS, then prints a JSON line of
the status codes it got. Each attack stays within what one tenant may send: the calls
come at most at CALLS_PER_SECOND, its rate limit in the noisy-neighbour test, and are
charged to that limit like anyone's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from helpers.auth import authed_channel, make_token
from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

TENANT = "attacker"
SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT
LOOPS = 4
CALLS_PER_SECOND = 200
STREAMS = 16
WATCHERS = 200
CHANNELS = 8


class Attack:
    def __init__(self, target: str, seconds: float) -> None:
        self.target = target
        self.until = time.monotonic() + seconds
        self.codes: Counter[str] = Counter()
        self.rng = random.Random(7)

    def running(self) -> bool:
        return time.monotonic() < self.until

    async def call(self, make: Callable[[], Awaitable[Any]]) -> None:
        try:
            await make()
            self.codes["OK"] += 1
        except grpc.aio.AioRpcError as error:
            self.codes[error.code().name] += 1

    async def loops(
        self, one: Callable[[analysis_service_pb2_grpc.AnalysisServiceStub], Awaitable[Any]]
    ) -> None:
        async with authed_channel(self.target, make_token(TENANT)) as channel:
            stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)  # type: ignore[no-untyped-call]
            print("ready", flush=True)

            async def loop() -> None:
                due = time.monotonic()
                while self.running():
                    due = max(due + LOOPS / CALLS_PER_SECOND, time.monotonic())
                    await self.call(lambda: one(stub))
                    await asyncio.sleep(max(0.0, due - time.monotonic()))

            await asyncio.gather(*(loop() for _ in range(LOOPS)))

    # -- the attacks ----------------------------------------------------------------

    async def nul(self) -> None:
        """NUL in texts and request ids, unary and streamed."""

        def one(stub: analysis_service_pb2_grpc.AnalysisServiceStub) -> Any:
            n = self.rng.random()
            if n < 0.4:
                request = analysis_service_pb2.CreateAnalysisRequest(
                    text=f"poison\x00{n}", analysis_type=SENTIMENT
                )
                return stub.CreateAnalysis(request, timeout=30)
            if n < 0.8:
                request = analysis_service_pb2.CreateAnalysisRequest(
                    text=f"A fine day {n}.", analysis_type=SENTIMENT, request_id=f"r\x00{n}"
                )
                return stub.CreateAnalysis(request, timeout=30)
            items = [
                analysis_service_pb2.AnalyzeStreamItem(
                    ref=str(i), text=f"item {i}\x00{n}", analysis_type=SENTIMENT
                )
                for i in range(50)
            ]
            return _drain(
                stub.AnalyzeStream(
                    iter([analysis_service_pb2.AnalyzeStreamRequest(items=items)]), timeout=30
                )
            )

        await self.loops(one)

    async def emoji(self) -> None:
        """10,000-emoji texts, each different (no cache hit), for sentiment."""
        faces = "😍😂😡😢👍🔥🎉💔😱🙏"

        def one(stub: analysis_service_pb2_grpc.AnalysisServiceStub) -> Any:
            # random.choices in one call: generating them must not cost the attacker a core.
            text = "".join(self.rng.choices(faces, k=10_000))
            request = analysis_service_pb2.CreateAnalysisRequest(
                text=text, analysis_type=SENTIMENT, language_code="en"
            )
            return stub.CreateAnalysis(request, timeout=30)

        await self.loops(one)

    async def huge_ids(self) -> None:
        """Ids of 7,000 characters and, one call in ten, of 1 MB, to get, delete and filter by."""

        def one(stub: analysis_service_pb2_grpc.AnalysisServiceStub) -> Any:
            n = self.rng.random()
            huge = ("y" * 1_000_000) if self.rng.random() < 0.1 else ("x" * 7_000)
            if n < 0.3:
                return stub.GetAnalysis(
                    analysis_service_pb2.GetAnalysisRequest(id=huge), timeout=30
                )
            if n < 0.6:
                return stub.DeleteAnalysis(
                    analysis_service_pb2.DeleteAnalysisRequest(id=huge), timeout=30
                )
            return stub.ListAnalyses(
                analysis_service_pb2.ListAnalysesRequest(batch_id=huge), timeout=30
            )

        await self.loops(one)

    async def page_tokens(self) -> None:
        """Forged page tokens: random bytes, and real tokens with bytes flipped."""

        def one(stub: analysis_service_pb2_grpc.AnalysisServiceStub) -> Any:
            raw = bytearray(os.urandom(self.rng.randrange(8, 400)))
            token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            request = analysis_service_pb2.ListAnalysesRequest(page_size=100, page_token=token)
            return stub.ListAnalyses(request, timeout=30)

        await self.loops(one)

    async def silent_streams(self) -> None:
        """AnalyzeStream calls that send 0.5 MB messages and never read an answer."""
        text = "Slow reader text that goes on. " * 320  # ~10,000 characters
        items = [
            analysis_service_pb2.AnalyzeStreamItem(ref=str(i), text=text, analysis_type=SENTIMENT)
            for i in range(50)
        ]
        message = analysis_service_pb2.AnalyzeStreamRequest(items=items)
        async with authed_channel(self.target, make_token(TENANT)) as channel:
            stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)  # type: ignore[no-untyped-call]
            print("ready", flush=True)

            async def stream() -> None:
                call = stub.AnalyzeStream()
                try:
                    while self.running():
                        await asyncio.wait_for(call.write(message), self.until - time.monotonic())
                        self.codes["message written"] += 1
                except TimeoutError:
                    self.codes["writes blocked"] += 1
                except grpc.aio.AioRpcError as error:
                    self.codes[error.code().name] += 1
                finally:
                    call.cancel()

            await asyncio.gather(*(stream() for _ in range(STREAMS)))

    async def watchers(self) -> None:
        """200 watchers of one pending batch, held open for the whole attack."""
        async with authed_channel(self.target, make_token(TENANT)) as channel:
            batches = batch_service_pb2_grpc.BatchServiceStub(channel)  # type: ignore[no-untyped-call]
            batch = await batches.CreateBatch(
                batch_service_pb2.CreateBatchRequest(
                    analysis_type=SENTIMENT, texts=[f"Watched {i}." for i in range(100)]
                ),
                timeout=30,
            )
        channels = [authed_channel(self.target, make_token(TENANT)) for _ in range(CHANNELS)]
        print("ready", flush=True)

        async def watch(channel: grpc.aio.Channel) -> None:
            stub = batch_service_pb2_grpc.BatchServiceStub(channel)  # type: ignore[no-untyped-call]
            call = stub.WatchBatch(batch_service_pb2.WatchBatchRequest(id=batch.id))
            try:
                async for _ in call:
                    self.codes["snapshot"] += 1
                self.codes[(await call.code()).name] += 1
            except grpc.aio.AioRpcError as error:
                self.codes[error.code().name] += 1

        tasks = [asyncio.create_task(watch(channels[i % CHANNELS])) for i in range(WATCHERS)]
        await asyncio.sleep(max(0.0, self.until - time.monotonic()))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for channel in channels:
            await channel.close(None)


async def _drain(call: grpc.aio.StreamStreamCall[Any, Any]) -> None:
    async for _ in call:
        pass


# In the order the test runs them; the streams last, since the memory they leave in the
# transport would weigh on the quiet window after them.
ATTACKS = {
    "NUL texts and request ids": Attack.nul,
    "200 watchers": Attack.watchers,
    "10,000-emoji texts": Attack.emoji,
    "huge ids": Attack.huge_ids,
    "forged page tokens": Attack.page_tokens,
    "non-reading streams": Attack.silent_streams,
}


async def main(target: str, phase: str, seconds: float) -> None:
    attack = Attack(target, seconds)
    await ATTACKS[phase](attack)
    print(json.dumps(dict(attack.codes)), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
