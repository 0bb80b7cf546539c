"""The SQLAlchemy unit of work: one connection and transaction, rolled back unless committed."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.adapters.db.analyses import SqlAnalysisRepository
from server.adapters.db.batches import SqlBatchRepository
from server.adapters.db.errors import translated, translated_connect


class SqlUnitOfWork:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    @translated_connect
    async def _open(self) -> AsyncConnection:
        connection = await self._engine.connect()
        try:
            await connection.begin()
        except BaseException:
            await connection.close()
            raise
        return connection

    async def __aenter__(self) -> Self:
        self._connection = await self._open()
        self.analyses = SqlAnalysisRepository(self._connection)
        self.batches = SqlBatchRepository(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        # Shielded: a cancelled call must still end its transaction, or it would hold
        # locks (SQLite's single writer) until the connection happened to be reused.
        await asyncio.shield(_end(connection, cancelled=exc_type is asyncio.CancelledError))

    @translated
    async def commit(self) -> None:
        assert self._connection is not None
        await self._connection.commit()


async def _end(connection: AsyncConnection, *, cancelled: bool) -> None:
    try:
        if cancelled and connection.dialect.name != "sqlite":
            # A statement may have been interrupted mid-flight: the connection's state is
            # unknown, so it is discarded (which also ends its transaction on the server).
            # aiosqlite runs a connection's operations in order on one thread, so there a
            # rollback simply follows the interrupted statement.
            await connection.invalidate()
        elif connection.in_transaction():
            await connection.rollback()
    except Exception:  # noqa: BLE001 - a dead connection is discarded by close() below
        await connection.invalidate()
    finally:
        await connection.close()
