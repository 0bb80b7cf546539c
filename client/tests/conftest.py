"""Client-only fixtures: nothing here may import the server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakeserver import FakeServer, start_fake_server

from textlens import AsyncClient


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    server = await start_fake_server()
    yield server
    await server.server.stop(None)


@pytest.fixture
async def client(fake: FakeServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(fake.target, timeout=10) as client:
        yield client
