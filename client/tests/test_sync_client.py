"""Client, the blocking wrapper, driven from a worker thread against the scripted server."""

from __future__ import annotations

import asyncio
import threading

import grpc.aio
import pytest
from fakeserver import FakeServer, rate_limited

import textlens
from textlens import Client


async def test_the_blocking_client_makes_every_kind_of_call(fake: FakeServer) -> None:
    def work() -> None:
        with Client(fake.target, timeout=10) as client:
            created = client.create_analysis("I like it", analysis_type="sentiment")
            assert client.get_analysis(created.id) == created
            assert [a.id for a in client.list_analyses(page_size=1)] == [created.id]
            assert client.list_analyses_page().total_size == 1
            results = list(client.analyze_stream(["a", " ", "c"], analysis_type="quality"))
            assert [r.ok for r in results] == [True, False, True]
            assert [s.completed_count for s in client.watch_batch("b1")] == [0, 1, 2, 3]
            client.delete_analysis(created.id)
            with pytest.raises(textlens.NotFound):
                client.get_analysis(created.id)

    await asyncio.to_thread(work)


async def test_the_blocking_client_retries_too(fake: FakeServer) -> None:
    fake.script.fail("CreateAnalysis", rate_limited(0.01))

    def work() -> str:
        with Client(fake.target) as client:
            return client.create_analysis("x", analysis_type="emotion").id

    assert await asyncio.to_thread(work)
    assert len(fake.script.of("CreateAnalysis")) == 2


async def test_one_blocking_client_serves_several_threads(fake: FakeServer) -> None:
    def work() -> set[str]:
        ids: set[str] = set()
        lock = threading.Lock()
        with Client(fake.target) as client:

            def create(i: int) -> None:
                analysis = client.create_analysis(f"text {i}", analysis_type="sentiment")
                with lock:
                    ids.add(analysis.id)

            threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return ids

    assert len(await asyncio.to_thread(work)) == 8


async def test_an_iterator_closed_early_ends_its_stream(fake: FakeServer) -> None:
    def work() -> int:
        with Client(fake.target) as client:
            with client.analyze_stream(
                (f"t{i}" for i in range(50_000)), analysis_type="sentiment"
            ) as results:
                first = next(results)
            assert first.index == 0
            return sum(fake.analyses.stream_messages)

    assert await asyncio.to_thread(work) < 50_000


async def test_a_channel_factory_is_called_on_the_clients_loop(fake: FakeServer) -> None:
    def work() -> None:
        with Client(channel_factory=lambda: grpc.aio.insecure_channel(fake.target)) as client:
            client.create_analysis("x", analysis_type="sentiment")

    await asyncio.to_thread(work)


async def test_closing_the_client_ends_iterators_left_open(fake: FakeServer) -> None:
    def work() -> None:
        client = Client(fake.target)
        for _ in range(3):
            results = client.analyze_stream(["a"] * 5000, analysis_type="sentiment")
            next(results)
            listing = client.list_analyses(page_size=1)
            next(listing)
        client.close()

    await asyncio.to_thread(work)


def test_a_closed_blocking_client_refuses_calls() -> None:
    client = Client("127.0.0.1:1")
    client.close()
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.health()
