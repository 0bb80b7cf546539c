"""Use cases of durable batches: create, get, list, cancel and watch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import structlog

from server.domain.errors import (
    AlreadyExists,
    ErrorReason,
    FailedPrecondition,
    FieldViolation,
    NotFound,
)
from server.domain.language import Language, Languages
from server.domain.model import AnalysisType, Batch, BatchStatus, new_id, payload_hash
from server.domain.validation import require_id, validate_batch_request
from server.service.analyses import enum_filter
from server.service.analyst import cooperatively, stated_code
from server.service.clock import Clock, utc_now
from server.service.paging import MAX_COUNTED_ROWS, Page, Pager
from server.service.ports import (
    BatchFilter,
    DuplicateRequestId,
    NoLimit,
    RateLimiter,
    UnitOfWorkFactory,
)
from server.service.watching import WatchHub

# How often a watched batch is read: watchers see other replicas' progress through the
# database, and changes in between are coalesced into one snapshot. One read per interval
# serves every watcher of the batch in this process.
WATCH_POLL_SECONDS = 0.25

log = structlog.get_logger("textlens.batches")


def _not_found(batch_id: str) -> NotFound:
    return NotFound(f"batch {batch_id!r} not found", reason=ErrorReason.BATCH_NOT_FOUND)


class BatchUseCases:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        pager: Pager,
        *,
        max_text_chars: int,
        max_batch_texts: int,
        limiter: RateLimiter | None = None,
        clock: Clock = utc_now,
        watch_poll_seconds: float = WATCH_POLL_SECONDS,
        languages: Languages | None = None,
    ) -> None:
        self._languages = languages or Languages()
        self._limiter = limiter or NoLimit()
        self._uow = uow
        self._pager = pager
        self._max_text_chars = max_text_chars
        self._max_batch_texts = max_batch_texts
        self._clock = clock
        self._hub = WatchHub(self.get, watch_poll_seconds)
        # Set when a batch is stored here, so local workers start without waiting to poll.
        self.created = asyncio.Event()

    async def create(
        self,
        tenant: str,
        texts: Sequence[str],
        analysis_type: int,
        request_id: str = "",
        language_code: str = "",
    ) -> Batch:
        trimmed, kind, key = validate_batch_request(
            texts,
            analysis_type,
            request_id,
            max_chars=self._max_text_chars,
            max_texts=self._max_batch_texts,
        )
        stated = self._languages.stated(language_code)
        fingerprint = (
            payload_hash(kind, *trimmed, language_code=stated_code(stated)) if key else None
        )
        if stated is None:
            await self._refuse_unsupported(trimmed)
        # A batch costs its size in texts, charged before any storage work. With a
        # request id, one unit pays for the idempotency lookup first: a replay costs that
        # unit and no more, and a new batch the rest of its size.
        self._limiter.check_cost(tenant, len(trimmed))
        if key is not None:
            await self._limiter.acquire(tenant, 1)
            async with self._uow() as uow:
                stored = await uow.batches.get_by_request_id(tenant, key)
            if stored is not None:
                return _replay(stored, fingerprint)
        await self._limiter.acquire(tenant, len(trimmed) - (key is not None))
        now = self._clock()
        batch = Batch(
            id=new_id(),
            tenant=tenant,
            analysis_type=kind,
            status=BatchStatus.PENDING,
            total_count=len(trimmed),
            create_time=now,
            update_time=now,
            request_id=key,
            payload_hash=fingerprint,
            language_code=stated.code if stated is not None else None,
        )
        try:
            async with self._uow() as uow:
                await uow.batches.add(batch, trimmed)
                await uow.commit()
        except DuplicateRequestId:
            assert key is not None
            async with self._uow() as uow:
                stored = await uow.batches.get_by_request_id(tenant, key)
            if stored is None:
                raise
            return _replay(stored, fingerprint)
        self.created.set()
        log.info(
            "batch created",
            batch_id=batch.id,
            tenant=tenant,
            total=batch.total_count,
            analysis_type=batch.analysis_type.name,
        )
        return batch

    async def _refuse_unsupported(self, texts: Sequence[str]) -> None:
        """Detects every text's language (handing the event loop back now and then) and
        refuses the whole batch, naming each text, if any is in an unsupported language."""
        refused: list[tuple[Language, FieldViolation]] = []
        async for i, text in cooperatively(enumerate(texts)):
            language = self._languages.detect(text)
            violation = self._languages.violation(language, f"texts[{i}]")
            if violation is not None:
                refused.append((language, violation))
        if refused:
            raise self._languages.unsupported(refused)

    async def get(self, tenant: str, batch_id: str) -> Batch:
        require_id(batch_id)
        async with self._uow() as uow:
            batch = await uow.batches.get(tenant, batch_id)
        if batch is None:
            raise _not_found(batch_id)
        return batch

    async def list(
        self,
        tenant: str,
        *,
        page_size_value: int = 0,
        page_token: str = "",
        status: int = 0,
        analysis_type: int = 0,
        order_by: str = "",
    ) -> Page[Batch]:
        where = BatchFilter(
            status=enum_filter(status, BatchStatus, "status"),
            analysis_type=enum_filter(analysis_type, AnalysisType, "analysis_type"),
        )
        request = self._pager.request(
            ("batches", tenant, where.status, where.analysis_type),
            page_size_value=page_size_value,
            page_token=page_token,
            order_by=order_by,
        )
        async with self._uow() as uow:
            rows = await uow.batches.list_page(tenant, where, request)
            total = request.total
            if total is None:  # a first page: later pages carry this count in their token
                total = await uow.batches.count(tenant, where, at_most=MAX_COUNTED_ROWS)
        return self._pager.page(request, rows, total)

    async def cancel(self, tenant: str, batch_id: str) -> Batch:
        require_id(batch_id)
        async with self._uow() as uow:
            batch = await uow.batches.get(tenant, batch_id, for_update=True)
            if batch is None:
                raise _not_found(batch_id)
            if batch.status.finished:
                raise FailedPrecondition(
                    f"batch {batch_id!r} has already finished ({batch.status.name})",
                    reason=ErrorReason.BATCH_FINISHED,
                    metadata={"status": batch.status.name},
                )
            await uow.batches.cancel(batch, self._clock())
            await uow.commit()
        cancelled = await self.get(tenant, batch_id)
        log.info(
            "batch cancelled",
            batch_id=batch_id,
            tenant=tenant,
            total=cancelled.total_count,
            completed=cancelled.completed_count,
            failed=cancelled.failed_count,
        )
        return cancelled

    def watch(self, tenant: str, batch_id: str) -> AsyncIterator[Batch]:
        """The current snapshot, then one per change, ending with the finished one."""
        return self._hub.watch(tenant, batch_id)


def _replay(stored: Batch, requested_hash: str | None) -> Batch:
    if stored.payload_hash != requested_hash:
        raise AlreadyExists(
            f"request_id {stored.request_id!r} was already used with another payload",
            reason=ErrorReason.REQUEST_ID_REUSED,
        )
    return stored
