"""In-memory implementations of the service ports, for use-case tests without a database."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from server.domain.analyzers.base import AnalysisResult, AnalyzerInfo, QualityResult
from server.domain.language import Language
from server.domain.model import Analysis, AnalysisType
from server.service.paging import PageRequest
from server.service.ports import AnalysisFilter, DuplicateRequestId


class FakeAnalysisRepository:
    def __init__(self, rows: dict[str, Analysis]) -> None:
        self.rows = rows

    async def add(self, analysis: Analysis) -> None:
        if analysis.request_id is not None and any(
            a.tenant == analysis.tenant and a.request_id == analysis.request_id
            for a in self.rows.values()
        ):
            raise DuplicateRequestId
        self.rows[analysis.id] = analysis

    async def add_many(self, analyses: Sequence[Analysis]) -> None:
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
        field = page.order.field
        rows = sorted(
            self._matching(tenant, where),
            key=lambda a: (getattr(a, field), a.id),
            reverse=page.order.descending,
        )
        if page.after is not None:
            cursor = (page.after.value, page.after.id)
            rows = [
                a
                for a in rows
                if ((getattr(a, field), a.id) < cursor) == page.order.descending
                and (getattr(a, field), a.id) != cursor
            ]
        return rows[: page.limit + 1]

    async def count(self, tenant: str, where: AnalysisFilter, *, at_most: int) -> int:
        return min(at_most, len(self._matching(tenant, where)))


class FakeUnitOfWork:
    """Works on a copy of the store; commit publishes it, exit without commit discards it."""

    def __init__(self, store: dict[str, Analysis]) -> None:
        self.store = store
        self.commits = 0

    @property
    def analyses(self) -> FakeAnalysisRepository:
        return self._analyses

    async def __aenter__(self) -> Self:
        self._analyses = FakeAnalysisRepository(copy.copy(self.store))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        self.store.clear()
        self.store.update(self._analyses.rows)
        self.commits += 1


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
