"""The SQLAlchemy implementation of BatchRepository: batches, items, chunks and leases.

Work is handed out in chunks. A batch's items are written once, when it is created; a
worker claims the next run of them from the batch's cursor (``claimed_count``) and
records it as one ``batch_chunks`` row with its lease. Storing the results closes the
chunk. A chunk whose worker stopped or whose lease ran out is claimed again, for those of
its items that have no result yet, so an item costs one write beyond its text: its result.
"""

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
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from server.adapters.db.bulk import insert_analyses
from server.adapters.db.errors import translated
from server.adapters.db.queries import bounded_count, keyset_page, parse_uuid
from server.adapters.db.tables import (
    AnalysisRow,
    BatchChunkRow,
    BatchItemRow,
    BatchRow,
    ChunkState,
)
from server.domain.model import Analysis, AnalysisStatus, AnalysisType, Batch, BatchStatus
from server.service.paging import PageRequest
from server.service.ports import BatchFilter, ClaimedItem

B = cast(Table, BatchRow.__table__)
I = cast(Table, BatchItemRow.__table__)  # noqa: E741 - items, next to B for batches
C = cast(Table, BatchChunkRow.__table__)
A = cast(Table, AnalysisRow.__table__)

# Literals, not parameters: only then can a prepared (generic) plan use the partial
# indexes of open batches and open chunks.
_OPEN_BATCH = B.c.status.in_(
    [literal_column(str(int(BatchStatus.PENDING))), literal_column(str(int(BatchStatus.RUNNING)))]
)
_OPEN_CHUNK = C.c.state < literal_column(str(ChunkState.CLOSED))

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
                "INSERT INTO batch_items (batch_id, item, text) "
                "SELECT $1::uuid, u.item - 1, u.text "
                "FROM unnest($2::text[]) WITH ORDINALITY AS u(text, item)",
                (batch.id, list(texts)),
            )
            return
        for start in range(0, len(texts), _INSERT_CHUNK):
            await self._connection.execute(
                insert(I),
                [
                    {"batch_id": key, "item": index, "text": text}
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
        # Closing the open chunks fences off their workers: results they store later are
        # dropped (see ``complete``), so nothing is added to a batch once it is cancelled.
        await self._connection.execute(
            update(C)
            .where(C.c.batch_id == key, _OPEN_CHUNK)
            .values(state=ChunkState.CLOSED, lease_owner=None, lease_expires=None)
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
        # Chunks given back or whose lease ran out come first, then a new chunk from the
        # oldest open batch. ``after`` is not needed: a batch's cursor says where its next
        # chunk starts. A chunk found with every item stored is closed and passed over.
        while True:
            chunk = await self._reclaim(owner, now, lease_until)
            if chunk is None:
                chunk = await self._new_chunk(owner, limit, now, lease_until)
            if chunk is None:
                return []
            items = await self._unfinished(*chunk)
            if items:
                return items
            await self._close(chunk[0], chunk[1])

    async def _reclaim(
        self, owner: str, now: datetime, lease_until: datetime
    ) -> tuple[uuid.UUID, int, int] | None:
        # FOR UPDATE SKIP LOCKED lets replicas claim side by side without waiting on each
        # other; SQLite ignores it and relies on its single writer (BEGIN IMMEDIATE).
        released = C.c.state == literal_column(str(ChunkState.RELEASED))
        expired = and_(C.c.state == literal_column(str(ChunkState.LEASED)), C.c.lease_expires < now)
        row = (
            await self._connection.execute(
                select(C.c.batch_id, C.c.first_item, C.c.item_count)
                .where(_OPEN_CHUNK, or_(released, expired))
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).first()
        if row is None:
            return None
        await self._connection.execute(
            update(C)
            .where(C.c.batch_id == row.batch_id, C.c.first_item == row.first_item)
            .values(
                state=ChunkState.LEASED,
                lease_owner=owner,
                lease_expires=lease_until,
                attempts=C.c.attempts + 1,
            )
        )
        return row.batch_id, row.first_item, row.item_count

    async def _new_chunk(
        self, owner: str, limit: int, now: datetime, lease_until: datetime
    ) -> tuple[uuid.UUID, int, int] | None:
        # The batch row is locked (waiting, not skipping: storing results locks it too,
        # briefly, and skipping it then would leave a worker idle with work waiting).
        batch = (
            await self._connection.execute(
                select(B.c.id, B.c.claimed_count, B.c.total_count)
                .where(_OPEN_BATCH, B.c.claimed_count < B.c.total_count)
                .order_by(B.c.create_time, B.c.id)
                .limit(1)
                .with_for_update()
            )
        ).first()
        if batch is None:
            return None
        first, count = batch.claimed_count, min(limit, batch.total_count - batch.claimed_count)
        pending = B.c.status == int(BatchStatus.PENDING)
        await self._connection.execute(
            update(B)
            .where(B.c.id == batch.id)
            .values(
                claimed_count=first + count,
                status=case((pending, int(BatchStatus.RUNNING)), else_=B.c.status),
                update_time=case((pending, now), else_=B.c.update_time),
            )
        )
        await self._connection.execute(
            insert(C).values(
                batch_id=batch.id,
                first_item=first,
                item_count=count,
                state=ChunkState.LEASED,
                lease_owner=owner,
                lease_expires=lease_until,
                attempts=1,
            )
        )
        return batch.id, first, count

    async def _unfinished(self, batch_id: uuid.UUID, first: int, count: int) -> list[ClaimedItem]:
        """The chunk's items that have no result yet, in order."""
        owner = (
            await self._connection.execute(
                select(B.c.tenant, B.c.analysis_type, B.c.language_code).where(B.c.id == batch_id)
            )
        ).one()
        stored = exists().where(A.c.batch_id == I.c.batch_id, A.c.batch_item == I.c.item)
        rows = await self._connection.execute(
            select(I.c.item, I.c.text)
            .where(I.c.batch_id == batch_id, I.c.item >= first, I.c.item < first + count, ~stored)
            .order_by(I.c.item)
        )
        analysis_type = AnalysisType(owner.analysis_type)
        return [
            ClaimedItem(
                batch_id=str(batch_id),
                item=row.item,
                tenant=owner.tenant,
                analysis_type=analysis_type,
                text=row.text,
                language_code=owner.language_code,
            )
            for row in rows
        ]

    async def _close(self, batch_id: uuid.UUID, first_item: int) -> None:
        await self._connection.execute(
            update(C)
            .where(C.c.batch_id == batch_id, C.c.first_item == first_item)
            .values(state=ChunkState.CLOSED, lease_owner=None, lease_expires=None)
        )

    @translated
    async def complete(self, owner: str, results: Sequence[Analysis], now: datetime) -> int:
        by_batch: dict[uuid.UUID, list[Analysis]] = {}
        for result in results:
            if result.batch_id and result.batch_item is not None:
                by_batch.setdefault(uuid.UUID(result.batch_id), []).append(result)
        if not by_batch:
            return 0
        batch_ids = sorted(by_batch)
        # Locks in the order cancel takes them, batch then chunks, so the two never
        # deadlock; the batch row is updated below anyway.
        await self._connection.execute(
            select(B.c.id).where(B.c.id.in_(batch_ids)).order_by(B.c.id).with_for_update()
        )
        # Only results of chunks this owner still holds are stored: a chunk cancelled, or
        # claimed again by another worker after this one's lease ran out, is not ours.
        held: list[tuple[uuid.UUID, int, int]] = []
        kept: list[Analysis] = []
        for batch_id in batch_ids:
            items = [r.batch_item for r in by_batch[batch_id] if r.batch_item is not None]
            chunks = (
                await self._connection.execute(
                    select(C.c.first_item, C.c.item_count)
                    .where(
                        C.c.batch_id == batch_id,
                        C.c.state == ChunkState.LEASED,
                        C.c.lease_owner == owner,
                        C.c.first_item <= max(items),
                        C.c.first_item + C.c.item_count > min(items),
                    )
                    .with_for_update()
                )
            ).all()
            held += [(batch_id, row.first_item, row.item_count) for row in chunks]
            kept += [
                r
                for r in by_batch[batch_id]
                if any(first <= (r.batch_item or 0) < first + n for first, n in chunks)
            ]
        if not kept:
            return 0
        # A result whose item is already stored collides on (batch_id, batch_item) and is
        # dropped: one result per item.
        inserted = await insert_analyses(
            self._connection, kept, conflict="item", returning=("batch_id", "status")
        )
        completed: Counter[uuid.UUID] = Counter()
        failed: Counter[uuid.UUID] = Counter()
        for row in inserted:
            batch_id = uuid.UUID(str(row.batch_id))
            (completed if row.status == AnalysisStatus.COMPLETED else failed)[batch_id] += 1
        for batch_id in sorted(set(completed) | set(failed)):
            await self._advance(batch_id, completed[batch_id], failed[batch_id], now)
        for batch_id, first, count in held:
            stored = (
                select(func.count())
                .select_from(A)
                .where(
                    A.c.batch_id == batch_id,
                    A.c.batch_item >= first,
                    A.c.batch_item < first + count,
                )
                .scalar_subquery()
            )
            await self._connection.execute(
                update(C)
                .where(C.c.batch_id == batch_id, C.c.first_item == first, stored >= count)
                .values(state=ChunkState.CLOSED, lease_owner=None, lease_expires=None)
            )
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
        released = await self._connection.execute(
            update(C)
            .where(C.c.lease_owner == owner, C.c.state == ChunkState.LEASED)
            .values(state=ChunkState.RELEASED, lease_owner=None, lease_expires=None)
            .returning(C.c.item_count)
        )
        return sum(row.item_count for row in released)

    @translated
    async def pending_count(self) -> int:
        unclaimed = (
            select(func.coalesce(func.sum(B.c.total_count - B.c.claimed_count), 0))
            .where(_OPEN_BATCH)
            .scalar_subquery()
        )
        # Open chunks count whole, stored items and all: a chunk is closed when stored.
        claimed = (
            select(func.coalesce(func.sum(C.c.item_count), 0)).where(_OPEN_CHUNK).scalar_subquery()
        )
        result = await self._connection.execute(select(unclaimed + claimed))
        return int(result.scalar_one())
