"""The SQLAlchemy unit of work: one connection and transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.adapters.db.analyses import SqlAnalysisRepository
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
        try:
            if connection.in_transaction():
                await connection.rollback()
        except Exception:  # noqa: BLE001, S110 - the connection is dead; closing discards it
            pass
        finally:
            await connection.close()

    @translated
    async def commit(self) -> None:
        assert self._connection is not None
        await self._connection.commit()
