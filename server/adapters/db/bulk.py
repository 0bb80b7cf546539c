"""Many analyses in one statement: the write path of group commit, streams and batches.

On PostgreSQL the rows travel as one array per column into ``INSERT ... SELECT FROM
unnest(...)``: one prepared statement whatever the number of rows, encoded by asyncpg in
C, with none of SQLAlchemy's per-row parameter processing (which costs more than the
insert itself). On SQLite the same rows go through a Core multi-row insert. Either way
the statement runs on the caller's connection and transaction, with the engine's events
(tracing) and error handling.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any, Literal, cast

from sqlalchemy import Row, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.adapters.db.engine import json_text
from server.adapters.db.tables import AnalysisRow
from server.domain.model import Analysis
from server.service.concurrency import off_loop_if_long

T = cast(Table, AnalysisRow.__table__)

# Which unique key a conflicting row is skipped on: None (no conflict expected, a
# collision is an error), the idempotency key, or the batch item.
Conflict = Literal["request", "item"] | None

_COLUMNS = (
    ("id", "uuid"),
    ("tenant", "text"),
    ("text", "text"),
    ("analysis_type", "smallint"),
    ("status", "smallint"),
    ("result", "text"),  # JSON text, cast to json below
    ("error_message", "text"),
    ("processing_time_ms", "float8"),
    ("batch_id", "uuid"),
    ("batch_item", "integer"),
    ("request_id", "text"),
    ("payload_hash", "text"),
    ("create_time", "timestamptz"),
    ("update_time", "timestamptz"),
    ("process_time", "timestamptz"),
    ("language", "text"),
    ("language_confidence", "float8"),
)
_NAMES = ", ".join(name for name, _ in _COLUMNS)
_SELECTED = ", ".join("u.result::json" if n == "result" else f"u.{n}" for n, _ in _COLUMNS)
_ARRAYS = ", ".join(f"${i}::{kind}[]" for i, (_, kind) in enumerate(_COLUMNS, 1))
# Fixed column names; every value is a parameter.
_PG_INSERT = (
    f"INSERT INTO analyses ({_NAMES}) SELECT {_SELECTED} FROM unnest({_ARRAYS}) AS u({_NAMES})"  # noqa: S608
)
_PG_CONFLICT = {
    None: "",
    "request": " ON CONFLICT DO NOTHING",
    "item": " ON CONFLICT (batch_id, batch_item) DO NOTHING",
}


def to_row(analysis: Analysis) -> dict[str, Any]:
    return {
        "id": uuid.UUID(analysis.id),
        "tenant": analysis.tenant,
        "text": analysis.text,
        "analysis_type": int(analysis.analysis_type),
        "status": int(analysis.status),
        "result": analysis.result.to_dict() if analysis.result is not None else None,
        "error_message": analysis.error_message,
        "processing_time_ms": analysis.processing_time_ms,
        "batch_id": uuid.UUID(analysis.batch_id) if analysis.batch_id else None,
        "batch_item": analysis.batch_item,
        "request_id": analysis.request_id,
        "payload_hash": analysis.payload_hash,
        "create_time": analysis.create_time,
        "update_time": analysis.update_time,
        "process_time": analysis.process_time,
        "language": analysis.language,
        "language_confidence": analysis.language_confidence,
    }


async def _pg_arrays(analyses: Sequence[Analysis]) -> tuple[list[Any], ...]:
    """The insert's columns. Rendering results of long texts takes milliseconds (hundreds
    of sentences each): a large group is rendered in a thread, so that the event loop's
    other calls do not wait for it."""
    chars = sum(len(a.text) for a in analyses)
    return await off_loop_if_long(chars, functools.partial(_columns, analyses))


def _columns(analyses: Sequence[Analysis]) -> tuple[list[Any], ...]:
    columns: tuple[list[Any], ...] = tuple([] for _ in _COLUMNS)
    (ids, tenants, texts, types, statuses, results, errors, times) = columns[:8]
    (batches, items, requests, hashes, created, updated, processed) = columns[8:15]
    (languages, confidences) = columns[15:]
    for a in analyses:
        ids.append(a.id)
        tenants.append(a.tenant)
        texts.append(a.text)
        types.append(int(a.analysis_type))
        statuses.append(int(a.status))
        results.append(json_text(a.result.to_dict()) if a.result is not None else None)
        errors.append(a.error_message)
        times.append(a.processing_time_ms)
        batches.append(a.batch_id or None)
        items.append(a.batch_item)
        requests.append(a.request_id)
        hashes.append(a.payload_hash)
        created.append(a.create_time)
        updated.append(a.update_time)
        processed.append(a.process_time)
        languages.append(a.language)
        confidences.append(a.language_confidence)
    return columns


async def insert_analyses(
    connection: AsyncConnection,
    analyses: Sequence[Analysis],
    *,
    conflict: Conflict = None,
    returning: Sequence[str] = (),
) -> Sequence[Row[Any]]:
    """Inserts ``analyses``; returns the ``returning`` columns of the rows inserted (rows
    skipped on ``conflict`` are not among them)."""
    if not analyses:
        return []
    if connection.dialect.name == "postgresql":
        statement = _PG_INSERT + _PG_CONFLICT[conflict]
        if returning:
            statement += " RETURNING " + ", ".join(returning)
        result = await connection.exec_driver_sql(statement, await _pg_arrays(analyses))
        return result.all() if returning else []
    insert = sqlite.insert(T)
    if conflict == "item":
        insert = insert.on_conflict_do_nothing(index_elements=["batch_id", "batch_item"])
    elif conflict == "request":
        insert = insert.on_conflict_do_nothing()
    if returning:
        core = insert.returning(*(T.c[name] for name in returning))
        return (await connection.execute(core, [to_row(a) for a in analyses])).all()
    await connection.execute(insert, [to_row(a) for a in analyses])
    return []
