"""Use cases of the analysis resource: create, get, list, delete."""

from __future__ import annotations

import structlog

from server.domain.errors import ErrorReason, FieldViolation
from server.domain.language import Languages
from server.domain.model import Analysis, AnalysisType, payload_hash
from server.domain.validation import require_id, validate_analysis_request
from server.service.analyst import Analyst, Job, stated_code
from server.service.paging import ListQuery, Page, Pager
from server.service.ports import (
    AnalysisFilter,
    AnalysisWriter,
    DuplicateRequestId,
    Metrics,
    NoLimit,
    NoMetrics,
    RateLimiter,
    TransactionalWriter,
    UnitOfWorkFactory,
)
from server.service.resources import Resources

log = structlog.get_logger("textlens.analyses")


class AnalysisUseCases:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        analyst: Analyst,
        pager: Pager,
        *,
        max_text_chars: int,
        limiter: RateLimiter | None = None,
        metrics: Metrics | None = None,
        writer: AnalysisWriter | None = None,
        languages: Languages | None = None,
    ) -> None:
        self._uow = uow
        self._languages = languages or Languages()
        self._writer = writer or TransactionalWriter(uow)
        self._analyst = analyst
        self._stored = Resources(
            "analysis", ErrorReason.ANALYSIS_NOT_FOUND, uow, lambda uow: uow.analyses, pager
        )
        self._limiter = limiter or NoLimit()
        self._metrics = metrics or NoMetrics()
        self._max_text_chars = max_text_chars

    async def create(
        self,
        tenant: str,
        text: str,
        analysis_type: AnalysisType | FieldViolation,
        request_id: str = "",
        language_code: str = "",
    ) -> Analysis:
        text, kind, key = validate_analysis_request(
            text, analysis_type, request_id, self._max_text_chars
        )
        stated = self._languages.stated(language_code)
        language = self._languages.of(text, stated)
        # Charged before any storage work, the idempotency lookup included: a replay
        # costs its unit like any create.
        await self._limiter.acquire(tenant, 1)
        if key is not None:
            requested = payload_hash(kind, text, language_code=stated_code(stated))
            if (stored := await self._stored.replayed(tenant, key, requested)) is not None:
                return stored
        job = Job(text, kind, request_id=key, language=language)
        (analysis,) = await self._analyst.run(tenant, [job])
        try:
            await self._writer.store(analysis)
        except DuplicateRequestId:
            # A concurrent retry with the same key won the race: answer as it did.
            assert key is not None
            stored = await self._stored.replayed(tenant, key, analysis.payload_hash)
            if stored is None:  # deleted in between: nothing sensible to replay
                raise
            return stored
        self._metrics.analyses_stored([analysis])
        return analysis

    async def get(self, tenant: str, analysis_id: str) -> Analysis:
        return await self._stored.get(tenant, analysis_id)

    async def delete(self, tenant: str, analysis_id: str) -> None:
        require_id(analysis_id)
        async with self._uow() as uow:
            deleted = await uow.analyses.delete(tenant, analysis_id)
            await uow.commit()
        if deleted is None:
            raise self._stored.not_found(analysis_id)
        # Nothing of a deleted analysis outlives it, its cached result included.
        await self._analyst.forget(tenant, deleted.analysis_type, deleted.text)

    async def list(self, tenant: str, query: ListQuery[AnalysisFilter]) -> Page[Analysis]:
        where = query.where
        scope = ("analyses", tenant, where.analysis_type, where.status, where.batch_id or "")
        return await self._stored.list(tenant, query, scope)
