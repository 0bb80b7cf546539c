"""The SQLAlchemy implementation of AnalysisRepository."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    delete,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from server.adapters.db.bulk import insert_analyses
from server.adapters.db.errors import translated
from server.adapters.db.queries import bounded_count, keyset_page, parse_uuid
from server.adapters.db.tables import AnalysisRow
from server.domain.analyzers.base import result_from_dict
from server.domain.model import Analysis, AnalysisStatus, AnalysisType
from server.service.paging import PageRequest
from server.service.ports import AnalysisFilter

T = cast(Table, AnalysisRow.__table__)
C = T.c


def from_row(row: Row[Any]) -> Analysis:
    kind = AnalysisType(row.analysis_type)
    return Analysis(
        id=str(row.id),
        tenant=row.tenant,
        text=row.text,
        analysis_type=kind,
        status=AnalysisStatus(row.status),
        result=result_from_dict(kind, row.result) if row.result is not None else None,
        error_message=row.error_message,
        processing_time_ms=row.processing_time_ms,
        batch_id=str(row.batch_id) if row.batch_id is not None else None,
        batch_item=row.batch_item,
        request_id=row.request_id,
        payload_hash=row.payload_hash,
        create_time=row.create_time,
        update_time=row.update_time,
        process_time=row.process_time,
        language=row.language,
        language_confidence=row.language_confidence,
    )


def _conditions(tenant: str, where: AnalysisFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [C.tenant == tenant]
    if where.analysis_type is not None:
        conditions.append(C.analysis_type == int(where.analysis_type))
    if where.status is not None:
        conditions.append(C.status == int(where.status))
    if where.batch_id is not None:
        batch_id = parse_uuid(where.batch_id)
        conditions.append(C.batch_id == batch_id if batch_id else C.id.is_(None))
    return conditions


class SqlAnalysisRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    @translated
    async def add(self, analysis: Analysis) -> None:
        await insert_analyses(self._connection, [analysis])

    @translated
    async def add_many(self, analyses: Sequence[Analysis]) -> None:
        await insert_analyses(self._connection, analyses)

    @translated
    async def get(self, tenant: str, analysis_id: str) -> Analysis | None:
        key = parse_uuid(analysis_id)
        if key is None:
            return None
        result = await self._connection.execute(select(T).where(C.id == key, C.tenant == tenant))
        row = result.first()
        return from_row(row) if row is not None else None

    @translated
    async def get_by_request_id(self, tenant: str, request_id: str) -> Analysis | None:
        result = await self._connection.execute(
            select(T).where(C.tenant == tenant, C.request_id == request_id)
        )
        row = result.first()
        return from_row(row) if row is not None else None

    @translated
    async def delete(self, tenant: str, analysis_id: str) -> Analysis | None:
        key = parse_uuid(analysis_id)
        if key is None:
            return None
        result = await self._connection.execute(
            delete(T).where(C.id == key, C.tenant == tenant).returning(*C)
        )
        row = result.first()
        return from_row(row) if row is not None else None

    @translated
    async def list_page(
        self, tenant: str, where: AnalysisFilter, page: PageRequest
    ) -> list[Analysis]:
        result = await self._connection.execute(keyset_page(T, _conditions(tenant, where), page))
        return [from_row(row) for row in result]

    @translated
    async def count(self, tenant: str, where: AnalysisFilter, *, at_most: int) -> int:
        result = await self._connection.execute(
            bounded_count(T, _conditions(tenant, where), at_most)
        )
        return int(result.scalar_one())
