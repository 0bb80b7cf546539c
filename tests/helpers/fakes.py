"""In-memory implementations of every service port, for use-case tests without a database."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from server.domain.analyzers.base import AnalysisResult, AnalyzerInfo, QualityResult
from server.domain.errors import ResourceExhausted, Unavailable
from server.domain.language import Language
from server.domain.model import (
    Analysis,
    AnalysisStatus,
    AnalysisType,
    Batch,
    BatchStatus,
    batch_status_after,
)
from server.service.paging import PageRequest
from server.service.ports import (
    AnalysisFilter,
    BatchFilter,
    CachedResult,
    CacheKey,
    ClaimedItem,
    DuplicateRequestId,
)

if TYPE_CHECKING:
    from server.domain.analyzers.base import Analyzer
    from server.domain.language import LanguageDetector
    from server.service.clock import Clock
    from server.service.ports import (
        AnalysisRepository,
        AnalysisWriter,
        BatchRepository,
        Metrics,
        RateLimiter,
        ResultCache,
        UnitOfWork,
        UnitOfWorkFactory,
    )

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A Clock that stands still until the test moves it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RowRefused(Exception):
    """What the database raises for a row it cannot store (not a mapped, domain error)."""


class ItemState(Enum):
    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class FakeItem:
    """One text of a batch and the lease on it."""

    text: str
    state: ItemState = ItemState.PENDING
    lease_owner: str | None = None
    lease_expires: datetime | None = None
    attempts: int = 0


@dataclass
class FakeStorage:
    """What the database holds. A unit of work reads a copy and publishes it on commit.

    ``refused``: texts whose analysis rows the database refuses (RowRefused);
    ``unavailable``: every unit of work fails to start (Unavailable), as when the
    database is down; ``broken_claims``: how many claims fail next with an error nobody
    expected (a bug, a driver's surprise).
    """

    analyses: dict[str, Analysis] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)
    items: dict[tuple[str, int], FakeItem] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    unavailable: bool = False
    broken_claims: int = 0
    commits: int = 0

    def results(self, batch_id: str) -> list[Analysis]:
        """A batch's stored results, in input order."""
        found = [a for a in self.analyses.values() if a.batch_id == batch_id]
        return sorted(found, key=lambda a: a.batch_item or 0)


class _Listed(Protocol):
    @property
    def id(self) -> str: ...


L = TypeVar("L", bound=_Listed)


def _page(rows: Iterable[L], page: PageRequest) -> list[L]:
    """Up to ``page.limit + 1`` rows after the page's cursor, in its order."""
    field_ = page.order.field

    def key(row: L) -> tuple[Any, str]:
        return (getattr(row, field_), row.id)

    ordered = sorted(rows, key=key, reverse=page.order.descending)
    if page.after is not None:
        cursor = (page.after.value, page.after.id)
        ordered = [
            r for r in ordered if (key(r) < cursor) == page.order.descending and key(r) != cursor
        ]
    return ordered[: page.limit + 1]


class FakeAnalysisRepository:
    def __init__(self, rows: dict[str, Analysis], refused: set[str] | None = None) -> None:
        self.rows = rows
        self._refused = refused if refused is not None else set()

    def check(self, analyses: Sequence[Analysis]) -> None:
        """Refuses the whole statement if the database would refuse any of its rows."""
        if any(a.text in self._refused for a in analyses):
            raise RowRefused("value violates a constraint")

    async def add(self, analysis: Analysis) -> None:
        self.check([analysis])
        if analysis.request_id is not None and any(
            a.tenant == analysis.tenant and a.request_id == analysis.request_id
            for a in self.rows.values()
        ):
            raise DuplicateRequestId
        self.rows[analysis.id] = analysis

    async def add_many(self, analyses: Sequence[Analysis]) -> None:
        self.check(analyses)
        for analysis in analyses:
            await self.add(analysis)

    async def get(self, tenant: str, analysis_id: str) -> Analysis | None:
        found = self.rows.get(analysis_id)
        return found if found is not None and found.tenant == tenant else None

    async def get_by_request_id(self, tenant: str, request_id: str) -> Analysis | None:
        return next(
            (a for a in self.rows.values() if a.tenant == tenant and a.request_id == request_id),
            None,
        )

    async def delete(self, tenant: str, analysis_id: str) -> Analysis | None:
        found = await self.get(tenant, analysis_id)
        if found is not None:
            del self.rows[analysis_id]
        return found

    def _matching(self, tenant: str, where: AnalysisFilter) -> list[Analysis]:
        return [
            a
            for a in self.rows.values()
            if a.tenant == tenant
            and (where.analysis_type is None or a.analysis_type == where.analysis_type)
            and (where.status is None or a.status == where.status)
            and (where.batch_id is None or a.batch_id == where.batch_id)
        ]

    async def list_page(
        self, tenant: str, where: AnalysisFilter, page: PageRequest
    ) -> list[Analysis]:
        return _page(self._matching(tenant, where), page)

    async def count(self, tenant: str, where: AnalysisFilter, *, at_most: int) -> int:
        return min(at_most, len(self._matching(tenant, where)))


class FakeBatchRepository:
    """Batches and their items, with the claim and lease rules of the SQL repository.

    Stored batches and items are never changed in place: a change replaces them, so an
    uncommitted unit of work leaves the storage as it was.
    """

    def __init__(
        self,
        batches: dict[str, Batch],
        items: dict[tuple[str, int], FakeItem],
        analyses: FakeAnalysisRepository,
        storage: FakeStorage | None = None,
    ) -> None:
        self.rows = batches
        self.items = items
        self._analyses = analyses
        self._storage = storage  # for its broken_claims

    async def add(self, batch: Batch, texts: Sequence[str]) -> None:
        if batch.request_id is not None and self._by_request_id(batch.tenant, batch.request_id):
            raise DuplicateRequestId
        self.rows[batch.id] = batch
        for index, text in enumerate(texts):
            self.items[(batch.id, index)] = FakeItem(text)

    async def get(self, tenant: str, batch_id: str, *, for_update: bool = False) -> Batch | None:
        found = self.rows.get(batch_id)
        return found if found is not None and found.tenant == tenant else None

    async def get_by_request_id(self, tenant: str, request_id: str) -> Batch | None:
        return self._by_request_id(tenant, request_id)

    def _by_request_id(self, tenant: str, request_id: str) -> Batch | None:
        return next(
            (b for b in self.rows.values() if b.tenant == tenant and b.request_id == request_id),
            None,
        )

    def _matching(self, tenant: str, where: BatchFilter) -> list[Batch]:
        return [
            b
            for b in self.rows.values()
            if b.tenant == tenant
            and (where.status is None or b.status == where.status)
            and (where.analysis_type is None or b.analysis_type == where.analysis_type)
        ]

    async def list_page(self, tenant: str, where: BatchFilter, page: PageRequest) -> list[Batch]:
        return _page(self._matching(tenant, where), page)

    async def count(self, tenant: str, where: BatchFilter, *, at_most: int) -> int:
        return min(at_most, len(self._matching(tenant, where)))

    async def cancel(self, batch: Batch, now: datetime) -> None:
        self.rows[batch.id] = dataclasses.replace(
            self.rows[batch.id], status=BatchStatus.CANCELLED, update_time=now, complete_time=now
        )
        self._set_items(
            [k for k, i in self.items.items() if k[0] == batch.id and i.state is ItemState.PENDING],
            state=ItemState.CANCELLED,
        )

    def _set_items(
        self,
        keys: Iterable[tuple[str, int]],
        state: ItemState,
        lease_owner: str | None = None,
        lease_expires: datetime | None = None,
    ) -> None:
        for key in keys:
            self.items[key] = dataclasses.replace(
                self.items[key], state=state, lease_owner=lease_owner, lease_expires=lease_expires
            )

    async def claim(
        self,
        owner: str,
        limit: int,
        now: datetime,
        lease_until: datetime,
        after: tuple[str, int] | None = None,
    ) -> list[ClaimedItem]:
        if self._storage is not None and self._storage.broken_claims:
            self._storage.broken_claims -= 1
            raise RuntimeError("claim failed unexpectedly")
        keys = sorted(self.items)
        expired = [
            k
            for k in keys
            if self.items[k].state is ItemState.CLAIMED
            and (expires := self.items[k].lease_expires) is not None
            and expires < now
        ]
        pending = [k for k in keys if self.items[k].state is ItemState.PENDING]
        later = [k for k in pending if after is not None and k > after]
        picked = list(dict.fromkeys(expired + later + pending))[:limit]
        for key in picked:
            item = self.items[key]
            self.items[key] = dataclasses.replace(
                item,
                state=ItemState.CLAIMED,
                lease_owner=owner,
                lease_expires=lease_until,
                attempts=item.attempts + 1,
            )
        for batch_id in {k[0] for k in picked}:
            if self.rows[batch_id].status is BatchStatus.PENDING:
                self.rows[batch_id] = dataclasses.replace(
                    self.rows[batch_id], status=BatchStatus.RUNNING, update_time=now
                )
        claimed = []
        for batch_id, index in sorted(picked):
            batch = self.rows[batch_id]
            claimed.append(
                ClaimedItem(
                    batch_id=batch_id,
                    item=index,
                    tenant=batch.tenant,
                    analysis_type=batch.analysis_type,
                    text=self.items[(batch_id, index)].text,
                    language_code=batch.language_code,
                )
            )
        return claimed

    async def complete(self, owner: str, results: Sequence[Analysis], now: datetime) -> int:
        self._analyses.check(results)
        taken = {(a.batch_id, a.batch_item) for a in self._analyses.rows.values()}
        inserted: list[Analysis] = []
        for result in results:
            assert result.batch_id is not None and result.batch_item is not None
            key = (result.batch_id, result.batch_item)
            if key not in taken:  # another worker stored this item's result first
                taken.add(key)
                inserted.append(result)
                self._analyses.rows[result.id] = result
            self._set_items([key], state=ItemState.DONE, lease_owner=None, lease_expires=None)
        for batch_id in sorted({a.batch_id for a in inserted if a.batch_id is not None}):
            mine = [a for a in inserted if a.batch_id == batch_id]
            completed = sum(a.status is AnalysisStatus.COMPLETED for a in mine)
            batch = self.rows[batch_id]
            advanced = dataclasses.replace(
                batch,
                completed_count=batch.completed_count + completed,
                failed_count=batch.failed_count + len(mine) - completed,
                update_time=now,
            )
            status = batch_status_after(advanced)
            if status is not advanced.status:
                advanced = dataclasses.replace(advanced, status=status, complete_time=now)
            self.rows[batch_id] = advanced
        return len(inserted)

    async def release(self, owner: str) -> int:
        held = [
            k
            for k, i in self.items.items()
            if i.state is ItemState.CLAIMED and i.lease_owner == owner
        ]
        self._set_items(held, state=ItemState.PENDING, lease_owner=None, lease_expires=None)
        return len(held)

    async def pending_count(self) -> int:
        waiting = (ItemState.PENDING, ItemState.CLAIMED)
        return sum(1 for i in self.items.values() if i.state in waiting)


class FakeUnitOfWork:
    """Works on a copy of the storage; commit publishes it, exit without commit discards it."""

    def __init__(self, storage: FakeStorage) -> None:
        self.storage = storage

    @property
    def analyses(self) -> FakeAnalysisRepository:
        return self._analyses

    @property
    def batches(self) -> FakeBatchRepository:
        return self._batches

    async def __aenter__(self) -> Self:
        if self.storage.unavailable:
            raise Unavailable("the database is unavailable; retry later")
        self._analyses = FakeAnalysisRepository(dict(self.storage.analyses), self.storage.refused)
        self._batches = FakeBatchRepository(
            dict(self.storage.batches), dict(self.storage.items), self._analyses, self.storage
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        _publish(self.storage.analyses, self._analyses.rows)
        _publish(self.storage.batches, self._batches.rows)
        _publish(self.storage.items, self._batches.items)
        self.storage.commits += 1


K = TypeVar("K")
V = TypeVar("V")


def _publish(table: dict[K, V], written: dict[K, V]) -> None:
    table.clear()
    table.update(written)


def units_of_work(storage: FakeStorage) -> Callable[[], FakeUnitOfWork]:
    """The unit-of-work factory the use cases take, over ``storage``."""
    return lambda: FakeUnitOfWork(storage)


class FakeAnalysisWriter:
    """Stores each analysis at once, as the group-commit writer does by the time it returns."""

    def __init__(self, storage: FakeStorage) -> None:
        self.storage = storage
        self.stored: list[Analysis] = []

    async def store(self, analysis: Analysis) -> None:
        async with FakeUnitOfWork(self.storage) as uow:
            await uow.analyses.add(analysis)
            await uow.commit()
        self.stored.append(analysis)


class FakeRateLimiter:
    """A budget of ``budget`` texts per tenant that never refills; records every charge
    ("charge N") in ``events``, in order with whatever else the test records there."""

    def __init__(self, budget: int = 1_000, events: list[str] | None = None) -> None:
        self.budget = budget
        self.left: dict[str, int] = {}
        self.events = events if events is not None else []
        self.calls = 0

    def check_cost(self, tenant: str, cost: int) -> None:
        if cost > self.budget:
            raise ResourceExhausted(
                "larger than the whole budget", retry_after=None, subject=tenant, quota="texts"
            )

    async def acquire(self, tenant: str, cost: int = 1) -> None:
        self.calls += 1
        left = self.left.get(tenant, self.budget)
        if cost > left:
            raise ResourceExhausted("over budget", retry_after=1.0, subject=tenant, quota="texts")
        self.left[tenant] = left - cost
        self.events.append(f"charge {cost}")


class FakeMetrics:
    def __init__(self) -> None:
        self.stored: list[Analysis] = []
        self.hits = 0
        self.misses = 0

    def analyses_stored(self, analyses: Sequence[Analysis]) -> None:
        self.stored += analyses

    def cache_lookups(self, *, hits: int, misses: int) -> None:
        self.hits += hits
        self.misses += misses


class FakeResultCache:
    """Entries by key id, kept in the clear (the real caches seal them)."""

    def __init__(self) -> None:
        self.entries: dict[str, CachedResult] = {}

    async def get_many(self, keys: Sequence[CacheKey]) -> list[CachedResult | None]:
        return [self.entries.get(key.id) for key in keys]

    async def put_many(self, items: Sequence[tuple[CacheKey, CachedResult]]) -> None:
        self.entries.update((key.id, entry) for key, entry in items)

    async def delete_many(self, keys: Sequence[CacheKey]) -> None:
        for key in keys:
            self.entries.pop(key.id, None)


class FakeQualityAnalyzer:
    """Counts words; raises for texts containing "boom" (an analyzer bug)."""

    analysis_type = AnalysisType.QUALITY
    info = AnalyzerInfo("fake-quality", "0", "none")

    def __init__(self) -> None:
        self.calls: list[str] = []

    def analyze(self, text: str) -> AnalysisResult:
        self.calls.append(text)
        if "boom" in text:
            raise RuntimeError("/secret/path/analyzer.py: division by zero in SELECT * FROM")
        words = len(text.split())
        return QualityResult(
            score=0.5,
            flesch_reading_ease=50.0,
            grade_level=8.0,
            word_count=words,
            sentence_count=1,
            syllable_count=words,
            lexical_diversity=1.0,
            issues=(),
            analyzer=self.info,
        )


class ProcessKillingQualityAnalyzer(FakeQualityAnalyzer):
    """A fake quality analyzer that ends its own process on texts containing "die" (a
    crash no exception handler sees: a segfault, the kernel's OOM killer)."""

    def analyze(self, text: str) -> AnalysisResult:
        if "die" in text:
            os._exit(70)
        return super().analyze(text)


class ExplodingEmotionAnalyzer:
    """The real emotion analyzer, except that it fails on texts containing "boom".

    Configured through Settings.analyzers ("helpers.fakes:ExplodingEmotionAnalyzer") to
    exercise analyzer failures through a real server.
    """

    analysis_type = AnalysisType.EMOTION

    def __init__(self) -> None:
        from server.domain.analyzers import EmotionAnalyzer  # noqa: PLC0415

        self._real = EmotionAnalyzer()
        self.info = self._real.info

    def analyze(self, text: str) -> AnalysisResult:
        if "boom" in text:
            raise RuntimeError("/srv/secret/emotion.py line 3: KeyError in SELECT * FROM users")
        return self._real.analyze(text)


class FakeLanguageDetector:
    """Detects "es:" and "de:" prefixes as Spanish and German, anything else as English;
    remembers every text it was asked about."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def detect(self, text: str) -> Language:
        self.calls.append(text)
        for code in ("es", "de"):
            if text.startswith(f"{code}:"):
                return Language(code, 0.99)
        return Language("en", 0.9)


class LeakyFailingSentimentAnalyzer:
    """The real sentiment analyzer, except that on texts containing "boom" it fails the way
    careless code does: the exception's message quotes the text, and so do its locals.

    Configured through Settings.analyzers ("helpers.fakes:LeakyFailingSentimentAnalyzer")
    to check that no log line repeats what a failure carries.
    """

    analysis_type = AnalysisType.SENTIMENT

    def __init__(self) -> None:
        from server.domain.analyzers import SentimentAnalyzer  # noqa: PLC0415

        self._real = SentimentAnalyzer()
        self.info = self._real.info

    def analyze(self, text: str) -> AnalysisResult:
        if "boom" in text:
            sentences = text.split(".")  # a local holding the text, as real code has
            raise ValueError(f"cannot score {text!r} ({len(sentences)} sentences)")
        return self._real.analyze(text)


if TYPE_CHECKING:
    # Each fake must keep implementing its port: mypy fails here when one drifts.
    _storage = FakeStorage()
    _clock: Clock = FakeClock()
    _analyses: AnalysisRepository = FakeAnalysisRepository({})
    _batches: BatchRepository = FakeBatchRepository({}, {}, FakeAnalysisRepository({}))
    _uow: UnitOfWork = FakeUnitOfWork(_storage)
    _uow_factory: UnitOfWorkFactory = units_of_work(_storage)
    _writer: AnalysisWriter = FakeAnalysisWriter(_storage)
    _limiter: RateLimiter = FakeRateLimiter()
    _metrics: Metrics = FakeMetrics()
    _cache: ResultCache = FakeResultCache()
    _detector: LanguageDetector = FakeLanguageDetector()
    _analyzers: list[Analyzer] = [
        FakeQualityAnalyzer(),
        ExplodingEmotionAnalyzer(),
        LeakyFailingSentimentAnalyzer(),
    ]
