"""The database schema as SQLAlchemy 2 declarative models (Alembic migrations mirror it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy import text as sql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every database (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# json, not jsonb, on PostgreSQL (migration 0006): nothing queries inside a result, and
# json keeps the text as given where jsonb parses it into a form of its own. Writing 1,000
# short results costs PostgreSQL 10 ms instead of 25, 50 results of 10,000-character
# texts 34 ms instead of 78, and reading them back 4 to 5 times less
# (bench/result_column.py).
JSONDocument = JSON()

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AnalysisRow(Base):
    """One analysis. Every query filters by tenant; the indexes serve keyset paging."""

    __tablename__ = "analyses"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text)
    analysis_type: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[int] = mapped_column(SmallInteger)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)
    error_message: Mapped[str] = mapped_column(Text, default="")
    processing_time_ms: Mapped[float] = mapped_column(Float, default=0.0)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    batch_item: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    payload_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime)
    process_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Rows stored before languages were recorded were analysed as English, undetected.
    language: Mapped[str] = mapped_column(String(35), server_default="en")
    language_confidence: Mapped[float] = mapped_column(Float, server_default="0")

    __table_args__ = (
        # Idempotency: one analysis per (tenant, request_id); NULLs never collide.
        UniqueConstraint("tenant", "request_id"),
        # Exactly one result per batch item, whichever worker stores it.
        UniqueConstraint("batch_id", "batch_item"),
        Index(None, "tenant", "create_time", "id"),
        Index(None, "tenant", "update_time", "id"),
        Index(None, "batch_id", "create_time", "id"),
    )


class BatchRow(Base):
    """A batch and its counters; its items wait in batch_items, its results in analyses."""

    __tablename__ = "batches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(256))
    analysis_type: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[int] = mapped_column(SmallInteger)
    total_count: Mapped[int] = mapped_column(Integer)
    completed_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    payload_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime)
    update_time: Mapped[datetime] = mapped_column(UTCDateTime)
    complete_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The language the request stated for every text; workers analyse them as that.
    language_code: Mapped[str | None] = mapped_column(String(35), nullable=True)
    # Items 0 .. claimed_count - 1 have been handed out to workers in chunks.
    claimed_count: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        UniqueConstraint("tenant", "request_id"),
        Index(None, "tenant", "create_time", "id"),
        Index(None, "tenant", "update_time", "id"),
        # Workers look for the oldest batch with items left to hand out among these.
        Index(
            "ix_batches_open",
            "create_time",
            "id",
            postgresql_where=sql("status IN (1, 2)"),
            sqlite_where=sql("status IN (1, 2)"),
        ),
    )


class BatchItemRow(Base):
    """One text of a batch, written once when the batch is created; its chunk says who
    works on it, and its result row in analyses that it is done."""

    __tablename__ = "batch_items"

    batch_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    item: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class ChunkState:
    """States of a batch chunk (not part of the API)."""

    # Given back by a worker that stopped: claimable at once.
    RELEASED = 0
    LEASED = 1
    # Every item has its result, or the batch was cancelled.
    CLOSED = 2


class BatchChunkRow(Base):
    """A run of consecutive items of a batch handed to one worker under one lease. A chunk
    whose lease runs out is claimed again, for those of its items without a result."""

    __tablename__ = "batch_chunks"

    batch_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    first_item: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_count: Mapped[int] = mapped_column(Integer)
    state: Mapped[int] = mapped_column(SmallInteger)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        # Only open chunks: a claim looks for released ones and expired leases here.
        Index(
            "ix_batch_chunks_open",
            "state",
            "lease_expires",
            postgresql_where=sql("state < 2"),
            sqlite_where=sql("state < 2"),
        ),
    )
