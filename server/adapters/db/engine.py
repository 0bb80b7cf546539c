"""Creates the async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite) from one URL."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Fail fast when the database is down: callers get UNAVAILABLE in seconds, not minutes.
CONNECT_TIMEOUT_SECONDS = 3.0
POOL_TIMEOUT_SECONDS = 10.0


def normalise_url(url: str) -> URL:
    """Accepts plain ``postgresql://`` and ``sqlite://`` URLs and picks the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed


def json_text(value: Any) -> str:
    """A stored result as JSON text. orjson, not the standard library: a long text's result
    has hundreds of sentences, and encoding them is a tenth of the cost."""
    return orjson.dumps(value).decode()


# Both engines read and write JSON columns with these.
_JSON = {"json_serializer": json_text, "json_deserializer": orjson.loads}


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    # No pool_pre_ping: it costs a round trip and a transaction on every checkout. A
    # connection broken by a database restart fails its one call with a disconnect error
    # (UNAVAILABLE), and SQLAlchemy then invalidates the whole pool, so the calls after
    # it reconnect.
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_async_engine(
        parsed,
        # Statement parameters are texts: kept out of exception messages (and so logs).
        hide_parameters=True,
        **_JSON,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "server_settings": {"application_name": "textlens"},
        },
    )


def _sqlite_engine(url: URL) -> AsyncEngine:
    engine = create_async_engine(url, hide_parameters=True, **_JSON, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=30000",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # SQLite has one writer. Taking the write lock when the transaction starts makes
        # writers queue on busy_timeout instead of failing with "database is locked" when
        # a read transaction tries to upgrade; it is also what makes batch claims atomic.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
