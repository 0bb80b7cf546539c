"""The schema as a server meets it: migrated or checked, reachable, and the engine closed."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncEngine

from server.adapters.db import SchemaOutOfDate, migrate
from server.adapters.db.engine import create_engine, is_sqlite

REACHABLE_TIMEOUT_SECONDS = 3.0


async def prepare_schema(engine: AsyncEngine, *, apply: bool) -> None:
    """Migrates the embedded SQLite (or any database when told); refuses a stale PostgreSQL."""
    if apply or is_sqlite(engine):
        await migrate.upgrade(engine)
        return
    current = await migrate.current_revision(engine)
    if current != migrate.head_revision():
        raise SchemaOutOfDate(
            f"database schema is at revision {current or 'none'}, this server needs "
            f"{migrate.head_revision()}: run `textlens-server migrate` (or `serve --migrate`)"
        )


async def prepare_schema_once(database_url: str, *, apply: bool) -> None:
    """The schema step of ``serve``, run once by the parent of several server processes."""
    engine = create_engine(database_url)
    try:
        await prepare_schema(engine, apply=apply)
    finally:
        await engine.dispose()


async def run_migrations(database_url: str) -> str | None:
    """Applies every pending migration; returns the revision the database is now at."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(REACHABLE_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not reachable now"
        return False
    return True


async def close_engine(engine: AsyncEngine) -> None:
    """Disposes the pool once every connection is back (calls cancelled by the shutdown
    finish their unit of work first), so none is dropped unclosed."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            # The pool offers no event to wait on, so it is polled.
            while engine.pool.checkedout():  # type: ignore[attr-defined]  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    await engine.dispose()
