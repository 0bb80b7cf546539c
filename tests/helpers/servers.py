"""Real servers for end-to-end tests: one factory, in-process, on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from helpers.auth import server_settings
from server.app import Application


@asynccontextmanager
async def running_server(
    directory: Path,
    *,
    database_url: str | None = None,
    migrate: bool = False,
    stop_grace: float = 0,
    **settings: Any,
) -> AsyncIterator[Application]:
    """A started server with ``settings`` over the tests' defaults, and an SQLite database
    of its own in ``directory`` unless ``database_url`` names one; stopped on exit, with
    ``stop_grace`` seconds for calls and batch chunks in flight."""
    url = database_url or f"sqlite+aiosqlite:///{directory / 'textlens.db'}"
    app = Application(server_settings(database_url=url, **settings), migrate_schema=migrate)
    await app.start()
    try:
        yield app
    finally:
        await app.stop(stop_grace)
