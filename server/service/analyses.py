"""Use cases of the analysis resource: create, get, list, delete."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TypeVar

import structlog

from server.domain.analyzers.base import Analyzer
from server.domain.errors import AlreadyExists, ErrorReason, InvalidArgument, NotFound
from server.domain.model import (
    Analysis,
    AnalysisStatus,
    AnalysisType,
    BatchStatus,
    new_id,
    payload_hash,
)
from server.domain.validation import require_id, validate_analysis_request
from server.service.paging import Page, Pager
from server.service.ports import (
    AnalysisFilter,
    DuplicateRequestId,
    Metrics,
    NoLimit,
    NoMetrics,
    RateLimiter,
    UnitOfWorkFactory,
)

log = structlog.get_logger("textlens.analyses")

ANALYZER_FAILED_MESSAGE = "the analyzer could not process this text"

Clock = Callable[[], datetime]
T = TypeVar("T")

# Analysis runs on the event loop; long runs hand it back this often so calls keep flowing.
_SLICE_SECONDS = 0.005


async def cooperatively(items: Iterable[T]) -> AsyncIterator[T]:
    """Iterates, yielding to the event loop whenever a slice of CPU time has been used."""
    started = time.perf_counter()
    for item in items:
        yield item
        if time.perf_counter() - started > _SLICE_SECONDS:
            await asyncio.sleep(0)
            started = time.perf_counter()


def utc_now() -> datetime:
    return datetime.now(UTC)


def analyze(
    analyzer: Analyzer,
    *,
    tenant: str,
    text: str,
    clock: Clock = utc_now,
    batch_id: str | None = None,
    batch_item: int | None = None,
    request_id: str | None = None,
) -> Analysis:
    """Runs the analyzer on a validated text; a failure is recorded, never raised."""
    created = clock()
    start = time.perf_counter()
    try:
        result = analyzer.analyze(text)
    except Exception:
        # The message stored for the caller says nothing of the cause; the log does.
        log.exception("analyzer failed", analyzer=analyzer.info.name)
        result = None
    elapsed_ms = (time.perf_counter() - start) * 1000
    done = clock()
    return Analysis(
        id=new_id(),
        tenant=tenant,
        text=text,
        analysis_type=analyzer.analysis_type,
        status=AnalysisStatus.COMPLETED if result is not None else AnalysisStatus.FAILED,
        result=result,
        error_message="" if result is not None else ANALYZER_FAILED_MESSAGE,
        processing_time_ms=round(elapsed_ms, 3),
        create_time=created,
        update_time=done,
        process_time=done,
        batch_id=batch_id,
        batch_item=batch_item,
        request_id=request_id,
        payload_hash=payload_hash(analyzer.analysis_type, text) if request_id else None,
    )


E = TypeVar("E", AnalysisType, AnalysisStatus, BatchStatus)


def enum_filter(value: int, enum: type[E], field: str) -> E | None:
    """A list filter on an enum field: 0 means no filter, unknown numbers are invalid."""
    if value == 0:
        return None
    if value not in enum._value2member_map_:
        raise InvalidArgument.single(field, f"{value} is not a known value of {field}")
    return enum(value)


class AnalysisUseCases:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        analyzers: Mapping[AnalysisType, Analyzer],
        pager: Pager,
        *,
        max_text_chars: int,
        limiter: RateLimiter | None = None,
        metrics: Metrics | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._uow = uow
        self._analyzers = analyzers
        self._pager = pager
        self._limiter = limiter or NoLimit()
        self._metrics = metrics or NoMetrics()
        self._max_text_chars = max_text_chars
        self._clock = clock

    async def create(
        self, tenant: str, text: str, analysis_type: int, request_id: str = ""
    ) -> Analysis:
        text, kind, key = validate_analysis_request(
            text, analysis_type, request_id, self._max_text_chars
        )
        if key is not None:
            async with self._uow() as uow:
                stored = await uow.analyses.get_by_request_id(tenant, key)
            if stored is not None:
                return _replay(stored, payload_hash(kind, text))
        await self._limiter.acquire(tenant, 1)
        analysis = analyze(
            self._analyzers[kind], tenant=tenant, text=text, clock=self._clock, request_id=key
        )
        try:
            async with self._uow() as uow:
                await uow.analyses.add(analysis)
                await uow.commit()
        except DuplicateRequestId:
            # A concurrent retry with the same key won the race: answer as it did.
            assert key is not None
            async with self._uow() as uow:
                stored = await uow.analyses.get_by_request_id(tenant, key)
            if stored is None:  # deleted in between: nothing sensible to replay
                raise
            return _replay(stored, analysis.payload_hash)
        self._metrics.analyses_stored([analysis])
        return analysis

    async def get(self, tenant: str, analysis_id: str) -> Analysis:
        require_id(analysis_id)
        async with self._uow() as uow:
            analysis = await uow.analyses.get(tenant, analysis_id)
        if analysis is None:
            raise _not_found(analysis_id)
        return analysis

    async def delete(self, tenant: str, analysis_id: str) -> None:
        require_id(analysis_id)
        async with self._uow() as uow:
            deleted = await uow.analyses.delete(tenant, analysis_id)
            await uow.commit()
        if not deleted:
            raise _not_found(analysis_id)

    async def list(
        self,
        tenant: str,
        *,
        page_size_value: int = 0,
        page_token: str = "",
        analysis_type: int = 0,
        status: int = 0,
        batch_id: str = "",
        order_by: str = "",
    ) -> Page[Analysis]:
        where = AnalysisFilter(
            analysis_type=enum_filter(analysis_type, AnalysisType, "analysis_type"),
            status=enum_filter(status, AnalysisStatus, "status"),
            batch_id=batch_id or None,
        )
        request = self._pager.request(
            f"analyses|{tenant}|{where.analysis_type}|{where.status}|{batch_id}",
            page_size_value=page_size_value,
            page_token=page_token,
            order_by=order_by,
        )
        async with self._uow() as uow:
            rows = await uow.analyses.list_page(tenant, where, request)
            total = await uow.analyses.count(tenant, where)
        return self._pager.page(request, rows, total)


def _not_found(analysis_id: str) -> NotFound:
    return NotFound(f"analysis {analysis_id!r} not found", reason=ErrorReason.ANALYSIS_NOT_FOUND)


def _replay(stored: Analysis, requested_hash: str | None) -> Analysis:
    if stored.payload_hash != requested_hash:
        raise AlreadyExists(
            f"request_id {stored.request_id!r} was already used with another payload",
            reason=ErrorReason.REQUEST_ID_REUSED,
        )
    return stored
