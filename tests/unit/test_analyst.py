"""The analyst reuses one tenant's cached results, never another's, and the cache holds no text."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import pickle
import threading
import time

import structlog
import structlog.testing
from helpers.fakes import FakeMetrics, FakeQualityAnalyzer

from server.adapters.cache import LruResultCache
from server.domain.analyzers import EmotionAnalyzer, QualityAnalyzer, SentimentAnalyzer
from server.domain.analyzers.base import (
    AnalysisResult,
    Analyzer,
    Emotion,
    EmotionCategory,
    EmotionResult,
    SentimentLabel,
    SentimentResult,
)
from server.domain.model import AnalysisStatus, AnalysisType
from server.service.analyst import INLINE_CHARS, Analyst, Job, cache_key
from server.service.concurrency import TenantActivity
from server.service.ports import CachedResult, CacheKey

SECRET = b"k" * 32
SECRET_TEXT = "Zanzibar merger closes Friday. Zanzibar zanzibar zanzibar is CONFIDENTIAL!!!!"


def analyst_with(analyzer: FakeQualityAnalyzer, metrics: FakeMetrics | None = None) -> Analyst:
    return Analyst(
        {AnalysisType.QUALITY: analyzer},
        cache=LruResultCache(),
        cache_secret=SECRET,
        metrics=metrics,
    )


async def test_a_tenant_repeating_a_text_gets_its_cached_result_as_a_new_analysis() -> None:
    analyzer = FakeQualityAnalyzer()
    metrics = FakeMetrics()
    analyst = analyst_with(analyzer, metrics)
    (first,) = await analyst.run("acme", [Job("same words", AnalysisType.QUALITY)])
    again = await analyst.run("acme", [Job("same words", AnalysisType.QUALITY)] * 3)
    assert analyzer.calls == ["same words"]
    assert len({a.id for a in [first, *again]}) == 4
    assert all(a.result == first.result for a in again)
    assert (metrics.hits, metrics.misses) == (3, 1)


async def test_a_cached_result_reports_the_time_its_analysis_took_not_zero() -> None:
    analyst = analyst_with(FakeQualityAnalyzer())
    (first,) = await analyst.run("acme", [Job("same words", AnalysisType.QUALITY)])
    (hit,) = await analyst.run("acme", [Job("same words", AnalysisType.QUALITY)])
    assert first.processing_time_ms > 0
    assert hit.processing_time_ms == first.processing_time_ms


async def test_another_tenant_sending_the_same_text_never_gets_a_cached_result() -> None:
    analyzer = FakeQualityAnalyzer()
    metrics = FakeMetrics()
    analyst = analyst_with(analyzer, metrics)
    (mine,) = await analyst.run("acme", [Job("a confidential text", AnalysisType.QUALITY)])
    (theirs,) = await analyst.run("globex", [Job("a confidential text", AnalysisType.QUALITY)])
    # The second tenant's text was analysed afresh: the same work, hence the same timing,
    # as for any text never seen before.
    assert analyzer.calls == ["a confidential text"] * 2
    assert (metrics.hits, metrics.misses) == (0, 2)
    assert theirs.tenant == "globex" and theirs.result == mine.result


async def test_a_forgotten_text_is_analysed_again() -> None:
    analyzer = FakeQualityAnalyzer()
    analyst = analyst_with(analyzer)
    await analyst.run("acme", [Job("delete me", AnalysisType.QUALITY)])
    await analyst.forget("globex", AnalysisType.QUALITY, "delete me")  # not theirs to drop
    await analyst.run("acme", [Job("delete me", AnalysisType.QUALITY)])
    await analyst.forget("acme", AnalysisType.QUALITY, "delete me")
    await analyst.run("acme", [Job("delete me", AnalysisType.QUALITY)])
    assert analyzer.calls == ["delete me", "delete me"]


async def test_failures_are_not_cached() -> None:
    analyzer = FakeQualityAnalyzer()
    analyst = analyst_with(analyzer)
    for _ in range(2):
        (failed,) = await analyst.run("acme", [Job("boom", AnalysisType.QUALITY)])
        assert failed.status is AnalysisStatus.FAILED
    assert analyzer.calls == ["boom", "boom"]


def test_the_key_depends_on_secret_tenant_analyzer_and_text_and_shows_none_of_them() -> None:
    analyzer = FakeQualityAnalyzer()
    key = cache_key(SECRET, "acme", analyzer, "some text")  # type: ignore[arg-type]
    others = [
        cache_key(SECRET, "globex", analyzer, "some text"),  # type: ignore[arg-type]
        cache_key(SECRET, "acme", analyzer, "other text"),  # type: ignore[arg-type]
        cache_key(b"another secret" * 3, "acme", analyzer, "some text"),  # type: ignore[arg-type]
    ]
    assert len({key.id, *(k.id for k in others)}) == 4
    assert len({key.secret, *(k.secret for k in others)}) == 4
    assert key.secret.hex() not in key.id
    assert "acme" not in key.id and "some" not in key.id
    assert key.secret.hex() not in repr(key)


async def test_cache_entries_hold_no_text_and_open_only_with_their_key() -> None:
    cache = LruResultCache()
    results = [
        (AnalysisType.SENTIMENT, SentimentAnalyzer().analyze(SECRET_TEXT)),
        (AnalysisType.QUALITY, QualityAnalyzer().analyze(SECRET_TEXT)),
    ]
    # The quality result quotes the repeated word; the sentiment one holds its sentences.
    assert any("zanzibar" in repr(result).lower() for _, result in results)
    keys = [cache_key(SECRET, "acme", SentimentAnalyzer(), SECRET_TEXT + str(i)) for i in (0, 1)]
    entries = [CachedResult(kind, result, 1.5) for kind, result in results]
    await cache.put_many(list(zip(keys, entries, strict=True)))

    held = pickle.dumps(cache._entries) + repr(cache._entries).encode()
    for word in ("Zanzibar", "zanzibar", "merger", "CONFIDENTIAL"):
        assert word.encode() not in held
    assert await cache.get_many(keys) == entries
    # The quality entry's quoted words are sealed: its name without the key opens nothing.
    wrong_key = CacheKey(keys[1].id, b"x" * 32)
    assert await cache.get_many([wrong_key]) == [None]


async def test_the_lru_forgets_the_least_recently_used() -> None:
    cache = LruResultCache(max_entries=2)
    analyzer = FakeQualityAnalyzer()
    entry = CachedResult(AnalysisType.QUALITY, analyzer.analyze("x"), 1.0)
    a, b, c = (cache_key(SECRET, "t", analyzer, name) for name in "abc")  # type: ignore[arg-type]
    await cache.put_many([(a, entry), (b, entry)])
    await cache.get_many([a])
    await cache.put_many([(c, entry)])
    assert [r is not None for r in await cache.get_many([a, b, c])] == [True, False, True]


async def test_a_cache_full_of_long_results_gives_the_garbage_collector_nothing_to_walk() -> None:
    # Every full collection walks each object the process keeps: results of hundreds of
    # sentences, kept as objects, would make each one hold the event loop for ~0.1 s.
    cache = LruResultCache()
    analyzer = SentimentAnalyzer()
    text = "A sentence that goes on and on. " * 400
    result = CachedResult(AnalysisType.SENTIMENT, analyzer.analyze(text), 9.0)
    assert len(result.result.sentences) == 400  # type: ignore[union-attr]
    key = cache_key(SECRET, "t", analyzer, text)
    gc.collect()
    before = len(gc.get_objects())
    await cache.put_many(
        [(cache_key(SECRET, "t", analyzer, text + str(i)), result) for i in range(50)]
    )
    await cache.put_many([(key, result)])
    gc.collect()
    assert len(gc.get_objects()) - before < 1_000  # not 50 x 400 sentences
    assert await cache.get_many([key]) == [result]


async def reopened(analyzer: Analyzer, text: str, cached: CachedResult) -> AnalysisResult:
    """What a cache gives back for ``cached``, put in for ``text``: the same, or it fails."""
    cache = LruResultCache()
    key = cache_key(SECRET, "t", analyzer, text)
    await cache.put_many([(key, cached)])
    (opened,) = await cache.get_many([key])
    assert opened == cached
    assert opened is not None and opened.analysis_type is cached.analysis_type
    return opened.result


async def test_a_sentiment_entry_opens_to_the_same_result_whatever_its_sentences() -> None:
    # Entries keep a sentiment result as plain numbers and strings: what opens must be the
    # same result, with its enums and analyzer, for one sentence, several, or none.
    analyzer = SentimentAnalyzer()
    text = "Great food. Awful service! It was fine, I suppose."
    full = analyzer.analyze(text)
    assert len(full.sentences) == 3  # type: ignore[union-attr]
    for result in (full, dataclasses.replace(full, sentences=())):  # type: ignore[type-var]
        restored = await reopened(analyzer, text, CachedResult(AnalysisType.SENTIMENT, result, 2.5))
        assert isinstance(restored, SentimentResult)
        assert type(restored.label) is SentimentLabel
        assert all(type(sentence.label) is SentimentLabel for sentence in restored.sentences)
        assert restored.analyzer == full.analyzer  # type: ignore[union-attr]


async def test_an_emotion_entry_opens_to_the_same_result() -> None:
    analyzer = EmotionAnalyzer()
    text = "I can't believe they cancelled it, I'm furious and a bit sad."
    cached = CachedResult(AnalysisType.EMOTION, analyzer.analyze(text), 3.5)
    restored = await reopened(analyzer, text, cached)
    assert isinstance(restored, EmotionResult)
    assert type(restored.dominant) is Emotion
    assert len(restored.categories) == 27
    assert all(type(category) is EmotionCategory for category in restored.categories)


class HeldQualityAnalyzer(FakeQualityAnalyzer):
    """Holds each long text's analysis until the test lets it go (5 s at most)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def analyze(self, text: str) -> AnalysisResult:
        if len(text) > INLINE_CHARS:
            self.release.wait(timeout=5)
        return super().analyze(text)


async def test_other_calls_are_answered_while_a_long_text_is_being_analysed() -> None:
    analyzer = HeldQualityAnalyzer()
    analyst = analyst_with(analyzer)
    finished: list[str] = []

    async def call(name: str, text: str) -> None:
        await analyst.run(name, [Job(text, AnalysisType.QUALITY)])
        finished.append(name)

    long_call = asyncio.create_task(call("long", "word " * INLINE_CHARS))
    await asyncio.sleep(0)
    await call("short", "a short text")
    analyzer.release.set()
    await long_call
    analyst.close()
    # Had the long text held the event loop, the short call would have waited for it.
    assert finished == ["short", "long"]


async def test_long_and_short_texts_of_one_run_come_back_in_order_with_its_log_context() -> None:
    analyzer = ThreadNotingQualityAnalyzer()
    analyst = analyst_with(analyzer)
    texts = ["short one", "boom " * INLINE_CHARS, "short two", "long " * INLINE_CHARS]
    merge = [structlog.contextvars.merge_contextvars]
    with (
        structlog.testing.capture_logs(processors=merge) as logs,
        structlog.contextvars.bound_contextvars(request_id="r-1"),
    ):
        analyses = await analyst.run("acme", [Job(t, AnalysisType.QUALITY) for t in texts])
    analyst.close()
    assert [a.text for a in analyses] == texts
    assert [a.status for a in analyses] == [
        AnalysisStatus.COMPLETED,
        AnalysisStatus.FAILED,
        AnalysisStatus.COMPLETED,
        AnalysisStatus.COMPLETED,
    ]
    assert len({threading.get_ident(), *analyzer.threads}) == 2
    (failure,) = [line for line in logs if line["event"] == "analyzer failed"]
    assert failure["request_id"] == "r-1"


class ThreadNotingQualityAnalyzer(FakeQualityAnalyzer):
    """Remembers the threads it ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def analyze(self, text: str) -> AnalysisResult:
        self.threads.add(threading.get_ident())
        return super().analyze(text)


class SlowQualityAnalyzer(FakeQualityAnalyzer):
    """Takes 20 ms over each text, as a long text's analysis does."""

    def analyze(self, text: str) -> AnalysisResult:
        time.sleep(0.02)
        return super().analyze(text)


async def test_one_tenants_many_long_texts_do_not_hold_up_anothers() -> None:
    analyzer = SlowQualityAnalyzer()
    analyst = analyst_with(analyzer)
    heavy = [Job(f"heavy{i} " * INLINE_CHARS, AnalysisType.QUALITY) for i in range(8)]
    flood = asyncio.create_task(analyst.run("heavy", heavy))
    await asyncio.sleep(0.005)  # the flood is queued first
    light = "light " * INLINE_CHARS
    await analyst.run("light", [Job(light, AnalysisType.QUALITY)])
    await flood
    analyst.close()
    # Two of the flood were on their way when the light tenant's text came; turns then go
    # round the tenants, so it waited for one more of the flood at most, not for all six.
    assert analyzer.calls.index(light) <= 3, [c.split()[0] for c in analyzer.calls]


class NotingRunner:
    """A LongTextAnalysis that analyses in the caller's thread and notes each text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def analyze(self, analyzer: Analyzer, text: str) -> tuple[AnalysisResult, float]:
        self.texts.append(text)
        return analyzer.analyze(text), 1.0

    def close(self) -> None:
        pass


async def test_long_texts_are_isolated_only_while_other_tenants_are_calling() -> None:
    activity = TenantActivity()
    isolated = NotingRunner()
    analyst = Analyst(
        {AnalysisType.QUALITY: FakeQualityAnalyzer()}, isolated=isolated, activity=activity
    )
    alone, crowded = "alone " * INLINE_CHARS, "crowded " * INLINE_CHARS
    activity.seen("acme")
    await analyst.run("acme", [Job(alone, AnalysisType.QUALITY)])
    activity.seen("globex")
    (analysis,) = await analyst.run("acme", [Job(crowded, AnalysisType.QUALITY)])
    analyst.close()
    assert isolated.texts == [crowded]
    assert analysis.status == AnalysisStatus.COMPLETED
