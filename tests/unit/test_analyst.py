"""The analyst reuses cached results for the same text, type and analyzer version."""

from __future__ import annotations

from helpers.fakes import FakeQualityAnalyzer

from server.adapters.cache import LruResultCache
from server.domain.model import AnalysisStatus, AnalysisType
from server.service.analyst import Analyst, Job, cache_key


class CountingMetrics:
    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0

    def analyses_stored(self, analyses: object) -> None:
        return None

    def cache_lookups(self, *, hits: int, misses: int) -> None:
        self.hits += hits
        self.misses += misses


async def test_a_repeated_text_is_analysed_once_and_stored_as_its_own_analysis() -> None:
    analyzer = FakeQualityAnalyzer()
    metrics = CountingMetrics()
    analyst = Analyst({AnalysisType.QUALITY: analyzer}, cache=LruResultCache(), metrics=metrics)
    first = await analyst.run("acme", [Job("same words", AnalysisType.QUALITY)])
    again = await analyst.run("globex", [Job("same words", AnalysisType.QUALITY)] * 3)
    assert analyzer.calls == ["same words"]
    assert len({a.id for a in [*first, *again]}) == 4
    assert {a.tenant for a in again} == {"globex"}
    assert all(a.result == first[0].result for a in again)
    assert (metrics.hits, metrics.misses) == (3, 1)


async def test_failures_are_not_cached() -> None:
    analyzer = FakeQualityAnalyzer()
    analyst = Analyst({AnalysisType.QUALITY: analyzer}, cache=LruResultCache())
    for _ in range(2):
        (failed,) = await analyst.run("acme", [Job("boom", AnalysisType.QUALITY)])
        assert failed.status is AnalysisStatus.FAILED
    assert analyzer.calls == ["boom", "boom"]


def test_the_key_names_type_analyzer_version_and_text_digest() -> None:
    analyzer = FakeQualityAnalyzer()
    key = cache_key(analyzer, "some text")  # type: ignore[arg-type]
    assert key.startswith("2:fake-quality:0:")
    assert cache_key(analyzer, "other text") != key  # type: ignore[arg-type]


async def test_the_lru_forgets_the_least_recently_used() -> None:
    cache = LruResultCache(max_entries=2)
    analyzer = FakeQualityAnalyzer()
    result = analyzer.analyze("x")
    await cache.put_many([("a", result), ("b", result)])
    await cache.get_many(["a"])
    await cache.put_many([("c", result)])
    assert [r is not None for r in await cache.get_many(["a", "b", "c"])] == [True, False, True]
