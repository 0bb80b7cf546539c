"""Use cases of durable batches: create, get, list, cancel and watch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import structlog

from server.domain.errors import ErrorReason, FailedPrecondition, FieldViolation
from server.domain.language import Language, Languages
from server.domain.model import AnalysisType, Batch, BatchStatus, new_id, payload_hash
from server.domain.validation import require_id, validate_batch_request
from server.service.analyst import cooperatively, stated_code
from server.service.clock import Clock, utc_now
from server.service.paging import ListQuery, Page, Pager
from server.service.ports import (
    BatchFilter,
    DuplicateRequestId,
    NoLimit,
    RateLimiter,
    UnitOfWorkFactory,
)
from server.service.resources import Resources
from server.service.watching import WatchHub

# How often a watched batch is read: watchers see other replicas' progress through the
# database, and changes in between are coalesced into one snapshot. One read per interval
# serves every watcher of the batch in this process.
WATCH_POLL_SECONDS = 0.25

log = structlog.get_logger("textlens.batches")


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
        self._stored = Resources(
            "batch", ErrorReason.BATCH_NOT_FOUND, uow, lambda uow: uow.batches, pager
        )
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
        analysis_type: AnalysisType | FieldViolation,
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
            if (stored := await self._stored.replayed(tenant, key, fingerprint)) is not None:
                return stored
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
            stored = await self._stored.replayed(tenant, key, fingerprint)
            if stored is None:
                raise
            return stored
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
        return await self._stored.get(tenant, batch_id)

    async def list(self, tenant: str, query: ListQuery[BatchFilter]) -> Page[Batch]:
        where = query.where
        scope = ("batches", tenant, where.status, where.analysis_type)
        return await self._stored.list(tenant, query, scope)

    async def cancel(self, tenant: str, batch_id: str) -> Batch:
        require_id(batch_id)
        async with self._uow() as uow:
            batch = await uow.batches.get(tenant, batch_id, for_update=True)
            if batch is None:
                raise self._stored.not_found(batch_id)
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
