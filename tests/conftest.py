"""Fixtures shared by every tier: databases, an in-process server on a free port, its channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc.aio
import pytest
from helpers.auth import authed_channel, server_settings

from server.app import Application

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
async def app_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Application]:
    """One real server on a free port (embedded SQLite), in the test process, for the session."""
    db = tmp_path_factory.mktemp("db") / "textlens.db"
    app = Application(server_settings(database_url=f"sqlite+aiosqlite:///{db}"))
    await app.start()
    yield app
    await app.stop(0)


@pytest.fixture(scope="session")
async def channel(app_server: Application) -> AsyncIterator[grpc.aio.Channel]:
    async with authed_channel(app_server.port) as ch:
        yield ch
