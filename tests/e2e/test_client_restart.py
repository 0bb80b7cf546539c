"""Retries across a real server restart: the call waits out the gap instead of failing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers.auth import make_token
from helpers.process import ServerProcess

import textlens
from textlens import AsyncClient, Client, Retry

# Quick enough that the tests do not wait long after the server is back.
PROMPT = Retry(initial=0.05, maximum=0.5, max_attempts=1000)


def server_env(tmp_path: Path, port: int | None = None) -> dict[str, str]:
    env = {
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "TEXTLENS_SHUTDOWN_GRACE_SECONDS": "1",
    }
    if port is not None:
        env["TEXTLENS_PORT"] = str(port)
    return env


async def test_a_read_in_flight_while_the_server_restarts_succeeds(tmp_path: Path) -> None:
    first = ServerProcess(server_env(tmp_path), cwd=tmp_path).start()
    port = first.port
    assert port is not None
    second = ServerProcess(server_env(tmp_path, port), cwd=tmp_path)
    try:
        async with AsyncClient(
            first.target, timeout=60, retry=PROMPT, token=make_token()
        ) as client:
            created = await client.create_analysis("Survives restarts.", analysis_type="sentiment")
            assert await asyncio.to_thread(first.stop) == 0

            with pytest.raises(textlens.Unavailable) as caught:
                await client.health(timeout=1)
            assert caught.value.attempts > 1

            pending = asyncio.create_task(client.get_analysis(created.id))
            await asyncio.sleep(0.5)
            assert not pending.done(), "the client must keep retrying while the server is down"
            await asyncio.to_thread(second.start)
            fetched = await asyncio.wait_for(pending, 60)
            assert fetched == created
            page = await client.list_analyses_page()
            assert [a.id for a in page.analyses] == [created.id]
    finally:
        first.kill()
        second.stop()


async def test_a_create_retried_across_a_restart_is_stored_once(tmp_path: Path) -> None:
    first = ServerProcess(server_env(tmp_path), cwd=tmp_path).start()
    port = first.port
    assert port is not None
    second = ServerProcess(server_env(tmp_path, port), cwd=tmp_path)
    try:
        # An answered call proves the server's SIGTERM handler is installed: it prints
        # its banner a moment before installing it.
        async with AsyncClient(first.target, token=make_token()) as client:
            assert await client.health() == "SERVING"
        assert await asyncio.to_thread(first.stop) == 0

        def create_while_down() -> textlens.Analysis:
            with Client(
                f"127.0.0.1:{port}", timeout=60, retry=PROMPT, token=make_token()
            ) as client:
                return client.create_analysis("Stored once.", analysis_type="quality")

        pending = asyncio.ensure_future(asyncio.to_thread(create_while_down))
        await asyncio.sleep(0.5)
        assert not pending.done()
        await asyncio.to_thread(second.start)
        created = await asyncio.wait_for(pending, 60)
        async with AsyncClient(second.target, token=make_token()) as client:
            listed = [a async for a in client.list_analyses()]
        assert [a.id for a in listed] == [created.id]
    finally:
        first.kill()
        second.stop()
