"""The SQLAlchemy implementation of BatchRepository: batches, items, claims and leases."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from server.adapters.db.bulk import insert_analyses
from server.adapters.db.errors import translated
from server.adapters.db.queries import bounded_count, keyset_page, parse_uuid
from server.adapters.db.tables import AnalysisRow, BatchItemRow, BatchRow, ItemState
from server.domain.model import Analysis, AnalysisStatus, AnalysisType, Batch, BatchStatus
from server.service.paging import PageRequest
from server.service.ports import BatchFilter, ClaimedItem

B = cast(Table, BatchRow.__table__)
I = cast(Table, BatchItemRow.__table__)  # noqa: E741 - items, next to B for batches
A = cast(Table, AnalysisRow.__table__)

# Rows per INSERT statement when storing a batch's texts (bounded by bind-parameter limits).
_INSERT_CHUNK = 1_000


def from_row(row: Row[Any]) -> Batch:
    return Batch(
        id=str(row.id),
        tenant=row.tenant,
        analysis_type=AnalysisType(row.analysis_type),
        status=BatchStatus(row.status),
        total_count=row.total_count,
        completed_count=row.completed_count,
        failed_count=row.failed_count,
        request_id=row.request_id,
        payload_hash=row.payload_hash,
        create_time=row.create_time,
        update_time=row.update_time,
        complete_time=row.complete_time,
        language_code=row.language_code,
    )


def _conditions(tenant: str, where: BatchFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [B.c.tenant == tenant]
    if where.status is not None:
        conditions.append(B.c.status == int(where.status))
    if where.analysis_type is not None:
        conditions.append(B.c.analysis_type == int(where.analysis_type))
    return conditions


def _items(keys: Sequence[tuple[uuid.UUID, int]]) -> ColumnElement[bool]:
    """Items by key: per batch, ``batch_id = b AND item BETWEEN lo AND hi AND item IN
    (...)``. The range lets the primary key index find a chunk (items claimed together are
    mostly consecutive) in one descent whatever the table's statistics say; a row-value
    IN list of hundreds of keys would become an OR of as many branches instead."""
    by_batch: dict[uuid.UUID, list[int]] = {}
    for batch_id, item in keys:
        by_batch.setdefault(batch_id, []).append(item)
    return or_(
        *(
            and_(
                I.c.batch_id == batch_id,
                I.c.item.between(min(items), max(items)),
                I.c.item.in_(items),
            )
            for batch_id, items in by_batch.items()
        )
    )


class SqlBatchRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._dialect = connection.dialect.name

    @translated
    async def add(self, batch: Batch, texts: Sequence[str]) -> None:
        key = uuid.UUID(batch.id)
        await self._connection.execute(
            insert(B),
            [
                {
                    "id": key,
                    "tenant": batch.tenant,
                    "analysis_type": int(batch.analysis_type),
                    "status": int(batch.status),
                    "total_count": batch.total_count,
                    "completed_count": batch.completed_count,
                    "failed_count": batch.failed_count,
                    "request_id": batch.request_id,
                    "payload_hash": batch.payload_hash,
                    "create_time": batch.create_time,
                    "update_time": batch.update_time,
                    "complete_time": batch.complete_time,
                    "language_code": batch.language_code,
                }
            ],
        )
        if self._dialect == "postgresql":
            # Every item in one statement, one array per column (see bulk.py).
            await self._connection.exec_driver_sql(
                "INSERT INTO batch_items (batch_id, item, text, state, attempts) "
                "SELECT $1::uuid, u.item - 1, u.text, 0, 0 "
                "FROM unnest($2::text[]) WITH ORDINALITY AS u(text, item)",
                (batch.id, list(texts)),
            )
            return
        for start in range(0, len(texts), _INSERT_CHUNK):
            await self._connection.execute(
                insert(I),
                [
                    {
                        "batch_id": key,
                        "item": index,
                        "text": text,
                        "state": ItemState.PENDING,
                        "attempts": 0,
                    }
                    for index, text in enumerate(texts[start : start + _INSERT_CHUNK], start)
                ],
            )

    @translated
    async def get(self, tenant: str, batch_id: str, *, for_update: bool = False) -> Batch | None:
        key = parse_uuid(batch_id)
        if key is None:
            return None
        query = select(B).where(B.c.id == key, B.c.tenant == tenant)
        if for_update:
            query = query.with_for_update()
        row = (await self._connection.execute(query)).first()
        return from_row(row) if row is not None else None

    @translated
    async def get_by_request_id(self, tenant: str, request_id: str) -> Batch | None:
        row = (
            await self._connection.execute(
                select(B).where(B.c.tenant == tenant, B.c.request_id == request_id)
            )
        ).first()
        return from_row(row) if row is not None else None

    @translated
    async def list_page(self, tenant: str, where: BatchFilter, page: PageRequest) -> list[Batch]:
        result = await self._connection.execute(keyset_page(B, _conditions(tenant, where), page))
        return [from_row(row) for row in result]

    @translated
    async def count(self, tenant: str, where: BatchFilter, *, at_most: int) -> int:
        result = await self._connection.execute(
            bounded_count(B, _conditions(tenant, where), at_most)
        )
        return int(result.scalar_one())

    @translated
    async def cancel(self, batch: Batch, now: datetime) -> None:
        key = uuid.UUID(batch.id)
        await self._connection.execute(
            update(B)
            .where(B.c.id == key)
            .values(status=int(BatchStatus.CANCELLED), update_time=now, complete_time=now)
        )
        await self._connection.execute(
            update(I)
            .where(I.c.batch_id == key, I.c.state == ItemState.PENDING)
            .values(state=ItemState.CANCELLED)
        )

    @translated
    async def claim(
        self,
        owner: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
        after: tuple[str, int] | None = None,
    ) -> list[ClaimedItem]:
        # Items whose lease ran out first, then pending items in key order from ``after``,
        # wrapping around: each query walks an index, and starting after the last claim
        # steps over no item claimed or finished since (a scan from the first key would
        # wade through all of them until vacuum clears them). FOR UPDATE SKIP LOCKED lets
        # replicas claim side by side without waiting on each other; SQLite ignores it and
        # relies on its single writer (BEGIN IMMEDIATE).
        picked: dict[tuple[uuid.UUID, int], None] = {}
        expired = and_(I.c.state == ItemState.CLAIMED, I.c.lease_expires < now)
        # A literal, not a parameter: only then can a prepared (generic) plan use the
        # partial index of pending items.
        pending = I.c.state == literal_column(str(int(ItemState.PENDING)))
        start = (uuid.UUID(after[0]), after[1]) if after else None
        for claimable in (
            expired,
            and_(pending, tuple_(I.c.batch_id, I.c.item) > tuple_(*start)) if start else None,
            pending,
        ):
            if claimable is not None and len(picked) < limit:
                picked.update(dict.fromkeys(await self._pick(claimable, limit - len(picked))))
        keys = list(picked)
        if not keys:
            return []
        claimed = (
            await self._connection.execute(
                update(I)
                .where(_items(keys))
                .values(
                    state=ItemState.CLAIMED,
                    lease_owner=owner,
                    lease_expires=lease_until,
                    attempts=I.c.attempts + 1,
                )
                .returning(I.c.batch_id, I.c.item, I.c.text)
            )
        ).all()
        batch_ids = sorted({row.batch_id for row in claimed})
        await self._connection.execute(
            update(B)
            .where(B.c.id.in_(batch_ids), B.c.status == int(BatchStatus.PENDING))
            .values(status=int(BatchStatus.RUNNING), update_time=now)
        )
        owners = {
            row.id: (row.tenant, AnalysisType(row.analysis_type), row.language_code)
            for row in await self._connection.execute(
                select(B.c.id, B.c.tenant, B.c.analysis_type, B.c.language_code).where(
                    B.c.id.in_(batch_ids)
                )
            )
        }
        return [
            ClaimedItem(
                batch_id=str(row.batch_id),
                item=row.item,
                tenant=owners[row.batch_id][0],
                analysis_type=owners[row.batch_id][1],
                text=row.text,
                language_code=owners[row.batch_id][2],
            )
            for row in sorted(claimed, key=lambda row: (row.batch_id, row.item))
        ]

    async def _pick(self, claimable: Any, limit: int) -> list[tuple[uuid.UUID, int]]:
        picked = await self._connection.execute(
            select(I.c.batch_id, I.c.item)
            .where(claimable)
            .order_by(I.c.batch_id, I.c.item)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [(row.batch_id, row.item) for row in picked]

    @translated
    async def complete(self, owner: str, results: Sequence[Analysis], now: datetime) -> int:
        if not results:
            return 0
        # A result whose item another worker already finished (after this worker's lease
        # ran out) collides on (batch_id, batch_item) and is dropped: one result per item.
        inserted = await insert_analyses(
            self._connection, results, conflict="item", returning=("batch_id", "status")
        )
        keys = [
            (uuid.UUID(r.batch_id), r.batch_item)
            for r in results
            if r.batch_id and r.batch_item is not None
        ]
        await self._connection.execute(
            update(I)
            .where(_items(keys))
            .values(state=ItemState.DONE, lease_owner=None, lease_expires=None)
        )
        completed: Counter[uuid.UUID] = Counter()
        failed: Counter[uuid.UUID] = Counter()
        for row in inserted:
            batch_id = uuid.UUID(str(row.batch_id))
            (completed if row.status == AnalysisStatus.COMPLETED else failed)[batch_id] += 1
        for batch_id in sorted(set(completed) | set(failed)):
            await self._advance(batch_id, completed[batch_id], failed[batch_id], now)
        return len(inserted)

    async def _advance(
        self, batch_id: uuid.UUID, completed: int, failed: int, now: datetime
    ) -> None:
        done = B.c.completed_count + completed + B.c.failed_count + failed >= B.c.total_count
        running = B.c.status.in_([int(BatchStatus.PENDING), int(BatchStatus.RUNNING)])
        finished_status = case(
            (B.c.completed_count + completed > 0, int(BatchStatus.COMPLETED)),
            else_=int(BatchStatus.FAILED),
        )
        await self._connection.execute(
            update(B)
            .where(B.c.id == batch_id)
            .values(
                completed_count=B.c.completed_count + completed,
                failed_count=B.c.failed_count + failed,
                update_time=now,
                status=case((and_(running, done), finished_status), else_=B.c.status),
                complete_time=case((and_(running, done), now), else_=B.c.complete_time),
            )
        )

    @translated
    async def release(self, owner: str) -> int:
        result = await self._connection.execute(
            update(I)
            .where(I.c.lease_owner == owner, I.c.state == ItemState.CLAIMED)
            .values(state=ItemState.PENDING, lease_owner=None, lease_expires=None)
        )
        return int(result.rowcount)

    @translated
    async def pending_count(self) -> int:
        result = await self._connection.execute(
            select(func.count())
            .select_from(I)
            .where(I.c.state.in_([ItemState.PENDING, ItemState.CLAIMED]))
        )
        return int(result.scalar_one())
