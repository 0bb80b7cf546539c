"""Applies and checks Alembic migrations on an async engine.

Alembic is imported only when a migration step runs: the processes of a multi-process
server never run one (their parent has), and need not carry it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.adapters.db.errors import translated

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(_config()).get_current_head()


@translated
async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


@translated
async def upgrade(engine: AsyncEngine) -> None:
    """Brings the schema to the newest revision (idempotent)."""
    from alembic import command  # noqa: PLC0415

    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(_config(sync), "head"))


async def is_current(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == head_revision()
