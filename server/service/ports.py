"""Ports the use cases need: repositories and the unit of work, implemented by adapters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from server.domain.analyzers.base import AnalysisResult, Analyzer
from server.domain.model import Analysis, AnalysisStatus, AnalysisType, Batch, BatchStatus
from server.service.paging import PageRequest


class DuplicateRequestId(Exception):
    """An insert collided with a stored row of the same tenant and request id."""


@dataclass(frozen=True, slots=True)
class AnalysisFilter:
    analysis_type: AnalysisType | None = None
    status: AnalysisStatus | None = None
    batch_id: str | None = None


class AnalysisRepository(Protocol):
    async def add(self, analysis: Analysis) -> None:
        """Stores a new analysis; DuplicateRequestId if its request id is taken."""

    async def add_many(self, analyses: Sequence[Analysis]) -> None:
        """Stores new analyses that carry no request id, in one statement."""

    async def get(self, tenant: str, analysis_id: str) -> Analysis | None: ...

    async def get_by_request_id(self, tenant: str, request_id: str) -> Analysis | None: ...

    async def delete(self, tenant: str, analysis_id: str) -> Analysis | None:
        """Deletes the analysis; returns it, or None if there was none."""

    async def list_page(
        self, tenant: str, where: AnalysisFilter, page: PageRequest
    ) -> list[Analysis]:
        """Up to ``page.limit + 1`` analyses after the page's cursor, in its order."""

    async def count(self, tenant: str, where: AnalysisFilter, *, at_most: int) -> int:
        """How many analyses match, counting no further than ``at_most``."""


@dataclass(frozen=True, slots=True)
class BatchFilter:
    status: BatchStatus | None = None
    analysis_type: AnalysisType | None = None


@dataclass(frozen=True, slots=True)
class ClaimedItem:
    """A batch item a worker holds a lease on."""

    batch_id: str
    item: int
    tenant: str
    analysis_type: AnalysisType
    text: str
    # The language the batch's request stated for every text, if any.
    language_code: str | None = None


class BatchRepository(Protocol):
    async def add(self, batch: Batch, texts: Sequence[str]) -> None:
        """Stores the batch and one pending item per text; DuplicateRequestId if taken."""

    async def get(
        self, tenant: str, batch_id: str, *, for_update: bool = False
    ) -> Batch | None: ...

    async def get_by_request_id(self, tenant: str, request_id: str) -> Batch | None: ...

    async def list_page(
        self, tenant: str, where: BatchFilter, page: PageRequest
    ) -> list[Batch]: ...

    async def count(self, tenant: str, where: BatchFilter, *, at_most: int) -> int:
        """How many batches match, counting no further than ``at_most``."""

    async def cancel(self, batch: Batch, now: datetime) -> None:
        """Marks the batch cancelled and its pending items never to be processed."""

    async def claim(
        self,
        owner: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
        after: tuple[str, int] | None = None,
    ) -> list[ClaimedItem]:
        """Leases a chunk of up to ``limit`` items of one batch to ``owner``: a chunk given
        back or whose lease expired (its items without a result only), else the next items
        of the oldest unfinished batch, in item order. ``after`` (the last item this worker
        claimed) is a hint an implementation may use to resume its search there."""

    async def complete(self, owner: str, results: Sequence[Analysis], now: datetime) -> int:
        """Stores the results of items in chunks ``owner`` still holds (others are dropped:
        their chunk was cancelled or claimed again), at most one per item; closes the chunks
        whose items all have results and advances the batches' counters and status;
        returns how many results were new."""

    async def release(self, owner: str) -> int:
        """Gives the owner's open chunks back, claimable at once; how many items they hold."""

    async def pending_count(self) -> int:
        """Items waiting to be processed, across all tenants (for metrics)."""


class UnitOfWork(Protocol):
    """A transaction: rolled back on exit unless the use case committed."""

    @property
    def analyses(self) -> AnalysisRepository: ...

    @property
    def batches(self) -> BatchRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class AnalysisWriter(Protocol):
    async def store(self, analysis: Analysis) -> None:
        """Stores one new analysis durably; DuplicateRequestId if its request id is taken."""


class RateLimiter(Protocol):
    async def acquire(self, tenant: str, cost: int = 1) -> None:
        """Charges ``cost`` texts to the tenant's budget, or raises ResourceExhausted."""

    def check_cost(self, tenant: str, cost: int) -> None:
        """Raises ResourceExhausted, without a retry delay, if ``cost`` texts exceed the
        whole budget (waiting cannot help); charges nothing."""


class Metrics(Protocol):
    def analyses_stored(self, analyses: Sequence[Analysis]) -> None:
        """Counts stored analyses by type and status."""

    def cache_lookups(self, *, hits: int, misses: int) -> None:
        """Counts result-cache hits and misses."""


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Where one tenant's result for one text is cached, and the key that seals it.

    Both are derived from a server secret, the tenant, the analyzer and the text (see
    ``analyst.cache_key``): another tenant sending the same text looks elsewhere, and an
    entry can be opened only by a caller who sends the text again.
    """

    id: str
    secret: bytes = field(repr=False)
    # The text it was derived from, which holds whatever an entry leaves out (sentence
    # texts are its slices); held only while the caller's request is.
    text: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class CachedResult:
    """A result worth reusing, with the time its analysis took."""

    analysis_type: AnalysisType
    result: AnalysisResult
    processing_time_ms: float


class ResultCache(Protocol):
    """Sealed analysis results; a cache that fails answers with misses. Entries hold no
    text in the clear: whatever came from a text is encrypted with the key's secret."""

    async def get_many(self, keys: Sequence[CacheKey]) -> list[CachedResult | None]: ...

    async def put_many(self, items: Sequence[tuple[CacheKey, CachedResult]]) -> None: ...

    async def delete_many(self, keys: Sequence[CacheKey]) -> None: ...


class LongTextAnalysis(Protocol):
    """Where texts too long to analyse on the event loop are analysed."""

    async def analyze(self, analyzer: Analyzer, text: str) -> tuple[AnalysisResult, float]:
        """The analyzer's result and the milliseconds its analysis took; raises what the
        analyzer raises."""
        ...

    def close(self) -> None: ...


class NoLimit:
    """A RateLimiter that admits everything (for tests of other behaviour)."""

    async def acquire(self, tenant: str, cost: int = 1) -> None:
        return None

    def check_cost(self, tenant: str, cost: int) -> None:
        return None


class NoMetrics:
    def analyses_stored(self, analyses: Sequence[Analysis]) -> None:
        return None

    def cache_lookups(self, *, hits: int, misses: int) -> None:
        return None


class TransactionalWriter:
    """An AnalysisWriter that gives every analysis a transaction of its own."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def store(self, analysis: Analysis) -> None:
        async with self._uow() as uow:
            await uow.analyses.add(analysis)
            await uow.commit()
