"""Throwaway PostgreSQL databases on the machine's server, and the CI rule for missing services."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest

ADMIN_URL = os.environ.get(
    "TEXTLENS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEXTLENS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def missing_service(what: str) -> NoReturn:
    """Skips the test, or fails it under CI, where every service must be present."""
    message = f"{what} is not reachable"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)


async def postgres_reachable() -> bool:
    try:
        connection = await asyncpg.connect(ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


def _url_for(database: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


async def create_database() -> tuple[str, str]:
    """A new empty database: (name, SQLAlchemy URL)."""
    name = f"textlens_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name, _url_for(name).replace("postgresql://", "postgresql+asyncpg://", 1)


async def drop_database(name: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def admin_execute(sql: str) -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def temporary_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for the block (skips, or fails under CI, without one)."""
    if not await postgres_reachable():
        missing_service("PostgreSQL on 127.0.0.1:5432")
    name, url = await create_database()
    try:
        yield url
    finally:
        await drop_database(name)


@asynccontextmanager
async def database_url(kind: str, directory: Path) -> AsyncIterator[str]:
    """An empty database of the given kind ("sqlite" or "postgresql") for the block."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'textlens.sqlite'}"
        return
    async with temporary_database() as url:
        yield url


async def admin_fetchval(sql: str, *args: object) -> object:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()


async def fetch_all(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    """Rows of a query on any test database (PostgreSQL or SQLite), by SQLAlchemy URL."""
    from sqlalchemy import text  # noqa: PLC0415

    from server.adapters.db.engine import create_engine  # noqa: PLC0415

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(sql), params)]
    finally:
        await engine.dispose()
