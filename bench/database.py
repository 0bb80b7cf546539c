"""A fresh PostgreSQL database per run (user postgres, trust auth), and row counts in it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Postgres:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{database}"

    async def connect(self, database: str = "postgres") -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.host, port=self.port, user=self.user, database=database
        )

    async def create(self, database: str) -> None:
        conn = await self.connect()
        try:
            await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()

    async def drop(self, database: str) -> None:
        conn = await self.connect()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await conn.close()

    async def version(self) -> str:
        conn = await self.connect()
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    async def scalar(self, database: str, query: str, *args: object) -> int:
        conn = await self.connect(database)
        try:
            return int(await conn.fetchval(query, *args))
        finally:
            await conn.close()

    def count(self, database: str, table: str) -> int:
        return asyncio.run(self.scalar(database, f"SELECT count(*) FROM {table}"))


def as_uuids(ids: Iterable[str]) -> list[uuid.UUID] | None:
    """The ids as UUIDs, or None when they are not (ids are opaque to clients)."""
    try:
        return [uuid.UUID(i) for i in ids]
    except ValueError:
        return None


async def stored_among(pg: Postgres, database: str, column: str, ids: Iterable[str]) -> int | None:
    """How many rows of ``analyses`` have ``column`` in ``ids``; None if ids are not UUIDs."""
    uuids = as_uuids(ids)
    if uuids is None:
        return None
    return await pg.scalar(
        database, f"SELECT count(*) FROM analyses WHERE {column} = ANY($1::uuid[])", uuids
    )
