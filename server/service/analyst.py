"""Runs the analyzers for every way in (unary, stream, batch), reusing cached results."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import structlog

from server.domain.analyzers.base import AnalysisResult, Analyzer
from server.domain.language import UNDETECTED, Language
from server.domain.model import Analysis, AnalysisStatus, AnalysisType, new_id, payload_hash
from server.service.clock import Clock, utc_now
from server.service.concurrency import FairTurns, TenantActivity
from server.service.ports import (
    CachedResult,
    CacheKey,
    LongTextAnalysis,
    Metrics,
    NoMetrics,
    ResultCache,
)

log = structlog.get_logger("textlens.analyst")

ANALYZER_FAILED_MESSAGE = "the analyzer could not process this text"

T = TypeVar("T")

# Work on the event loop (analysis of short texts, a stream message's cache, encoding and
# rows) hands it back this often so calls keep flowing: another call waits about this long
# for each of the several turns of the loop it needs.
_SLICE_SECONDS = 0.002
# Longer texts are analysed elsewhere (LongTextAnalysis): the costliest analysis per
# character (emoji, for sentiment) takes about 6 ms at this length, ten times that at
# 10,000 characters, which would hold every other call of the process. For short texts the
# hand-off would cost more than the analysis.
INLINE_CHARS = 1_000
LONG_TEXTS_IN_FLIGHT = 2
# Work done in threads (long texts of a tenant alone, stream checks, encoding, cache
# sealing) competes with the event loop for the GIL, which waits up to the interpreter's
# switch interval each time it takes the GIL back (after every poll for I/O), and a call
# takes it back several times. At CPython's default of 5 ms, 10,000-emoji texts analysed
# in a thread held another tenant's paced calls to 40% of their rate; at 1 ms they kept
# it. (0.2 ms measured no better than 1 ms against non-reading streams.)
SWITCH_INTERVAL_SECONDS = 0.001


async def cooperatively(items: Iterable[T]) -> AsyncIterator[T]:
    """Iterates, yielding to the event loop whenever a slice of CPU time has been used."""
    started = time.perf_counter()
    for item in items:
        yield item
        if time.perf_counter() - started > _SLICE_SECONDS:
            await asyncio.sleep(0)
            started = time.perf_counter()


def timed(analyzer: Analyzer, text: str) -> tuple[AnalysisResult, float]:
    """The analyzer's result for the text and the milliseconds it took; raises what the
    analyzer raises."""
    start = time.perf_counter()
    result = analyzer.analyze(text)
    return result, (time.perf_counter() - start) * 1000


def analyze(
    analyzer: Analyzer,
    *,
    tenant: str,
    text: str,
    clock: Clock = utc_now,
    batch_id: str | None = None,
    batch_item: int | None = None,
    request_id: str | None = None,
    cached: CachedResult | None = None,
    language: Language = UNDETECTED,
) -> Analysis:
    """Runs the analyzer on a validated text (or takes its ``cached`` result); a failure
    is recorded, never raised."""
    created = clock()
    start = time.perf_counter()
    result: AnalysisResult | None = cached.result if cached is not None else None
    # A reused result reports the time its analysis took: a hit is told from a miss by
    # nothing in the answer (a fresh analysis of the same text takes about as long).
    elapsed_ms = cached.processing_time_ms if cached is not None else 0.0
    if result is None:
        try:
            result, elapsed_ms = timed(analyzer, text)
        except Exception:
            # The message stored for the caller says nothing of the cause; the log does.
            log.exception("analyzer failed", analyzer=analyzer.info.name)
            elapsed_ms = (time.perf_counter() - start) * 1000
    return recorded(
        analyzer, result, elapsed_ms, created, clock(),
        tenant=tenant, text=text, batch_id=batch_id, batch_item=batch_item,
        request_id=request_id, language=language,
    )  # fmt: skip


def recorded(
    analyzer: Analyzer,
    result: AnalysisResult | None,
    elapsed_ms: float,
    created: datetime,
    done: datetime,
    *,
    tenant: str,
    text: str,
    batch_id: str | None,
    batch_item: int | None,
    request_id: str | None,
    language: Language,
) -> Analysis:
    """The analysis of a text that the analyzer has run on (``result`` None: it failed)."""
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
        payload_hash=(
            payload_hash(analyzer.analysis_type, text, language_code=stated_code(language))
            if request_id
            else None
        ),
        language=language.code,
        language_confidence=language.confidence,
    )


def stated_code(language: Language | None) -> str:
    """The language code that is part of a request's payload: only a stated one."""
    return language.code if language is not None and language.stated else ""


@dataclass(frozen=True, slots=True)
class Job:
    """One validated text to analyse, and where its analysis belongs."""

    text: str
    analysis_type: AnalysisType
    batch_id: str | None = None
    batch_item: int | None = None
    request_id: str | None = None
    language: Language = UNDETECTED


def cache_key(secret: bytes, tenant: str, analyzer: Analyzer, text: str) -> CacheKey:
    """Same tenant, type, analyzer version and trimmed text: the same entry.

    A keyed hash (keyed BLAKE2b, a MAC; the key is derived from a server secret), so entry
    names reveal nothing of the texts and cannot be computed by someone who guesses one;
    the tenant is part of it, so a tenant never meets another's entries, nor the timing
    of their hits. Half of it names the entry, the other half is the key that seals it.
    """
    info = analyzer.info
    head = f"{tenant}\0{int(analyzer.analysis_type)}\0{info.name}\0{info.version}\0"
    value = hashlib.blake2b(
        (head + text).encode("utf-8", "surrogatepass"), key=secret, digest_size=64
    ).digest()
    return CacheKey(id=value[:24].hex(), secret=value[32:], text=text)


_NO_KEY = CacheKey("", b"")


class AnalysisThread:
    """Long texts analysed in one thread of this process: off the event loop, but under
    its GIL. A server uses it while a tenant is alone; while other tenants are calling,
    its long texts go to a process of their own (server.adapters.analysis_process)."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="analysis")

    async def analyze(self, analyzer: Analyzer, text: str) -> tuple[AnalysisResult, float]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, timed, analyzer, text)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


class Analyst:
    def __init__(
        self,
        analyzers: Mapping[AnalysisType, Analyzer],
        *,
        cache: ResultCache | None = None,
        cache_secret: bytes = b"",
        metrics: Metrics | None = None,
        clock: Clock = utc_now,
        long_texts: LongTextAnalysis | None = None,
        isolated: LongTextAnalysis | None = None,
        activity: TenantActivity | None = None,
    ) -> None:
        self.analyzers = analyzers
        self._cache = cache
        self._cache_secret = cache_secret
        self._metrics = metrics or NoMetrics()
        self._clock = clock
        self._long_texts = long_texts or AnalysisThread()
        # While other tenants are making calls, a tenant's long texts go to ``isolated``
        # (a process of their own) instead, so their CPU is not taken from those calls;
        # a tenant alone is spared the hand-off's cost.
        self._isolated = isolated
        self._activity = activity
        # Long texts take turns by tenant: one tenant's many do not hold up another's.
        # Two at a time, so the next is on its way while one is being analysed.
        self._turns = FairTurns(LONG_TEXTS_IN_FLIGHT)

    def close(self) -> None:
        self._long_texts.close()
        if self._isolated is not None:
            self._isolated.close()

    async def run(self, tenant: str, jobs: Sequence[Job]) -> list[Analysis]:
        """One analysis per job, in order; every one a new analysis of its own."""
        keys = (
            [self._key(tenant, job.analysis_type, job.text) for job in jobs]
            if self._cache is not None
            else [_NO_KEY] * len(jobs)
        )
        cached = await self._lookup(keys)
        # Long texts not in the cache are analysed elsewhere, all together, while the
        # short ones (and the cached) are done here.
        long = {
            i: job
            for i, job in enumerate(jobs)
            if cached[i] is None and len(job.text) > INLINE_CHARS
        }
        elsewhere = asyncio.gather(*(self._elsewhere(tenant, job) for job in long.values()))
        try:
            done: dict[int, Analysis] = {}
            async for i in cooperatively(i for i in range(len(jobs)) if i not in long):
                done[i] = self._analyze(tenant, jobs[i], cached[i])
            done.update(zip(long, await elsewhere, strict=True))
        finally:
            elsewhere.cancel()  # a call cancelled here: its queued texts are dropped
        analyses = [done[i] for i in range(len(jobs))]
        fresh = [
            (key, CachedResult(job.analysis_type, analysis.result, analysis.processing_time_ms))
            for job, key, hit, analysis in zip(jobs, keys, cached, analyses, strict=True)
            if hit is None and analysis.result is not None
        ]
        if self._cache is not None and fresh:
            await self._cache.put_many(fresh)
        return analyses

    async def _elsewhere(self, tenant: str, job: Job) -> Analysis:
        analyzer = self.analyzers[job.analysis_type]
        created = self._clock()
        start = time.perf_counter()
        result: AnalysisResult | None = None
        try:
            async with self._turns.turn(tenant):
                result, elapsed_ms = await self._where(tenant).analyze(analyzer, job.text)
        except Exception:
            log.exception("analyzer failed", analyzer=analyzer.info.name)
            elapsed_ms = (time.perf_counter() - start) * 1000
        return recorded(
            analyzer, result, elapsed_ms, created, self._clock(),
            tenant=tenant, text=job.text, batch_id=job.batch_id, batch_item=job.batch_item,
            request_id=job.request_id, language=job.language,
        )  # fmt: skip

    def _where(self, tenant: str) -> LongTextAnalysis:
        activity, isolated = self._activity, self._isolated
        if isolated is not None and (activity is None or activity.others_active(tenant)):
            return isolated
        return self._long_texts

    def _analyze(self, tenant: str, job: Job, hit: CachedResult | None) -> Analysis:
        return analyze(
            self.analyzers[job.analysis_type],
            tenant=tenant,
            text=job.text,
            clock=self._clock,
            batch_id=job.batch_id,
            batch_item=job.batch_item,
            request_id=job.request_id,
            cached=hit,
            language=job.language,
        )

    async def forget(self, tenant: str, analysis_type: AnalysisType, text: str) -> None:
        """Drops the tenant's cached result for this text (its analysis was deleted)."""
        if self._cache is not None and analysis_type in self.analyzers:
            await self._cache.delete_many([self._key(tenant, analysis_type, text)])

    def _key(self, tenant: str, analysis_type: AnalysisType, text: str) -> CacheKey:
        return cache_key(self._cache_secret, tenant, self.analyzers[analysis_type], text)

    async def _lookup(self, keys: list[CacheKey]) -> list[CachedResult | None]:
        if self._cache is None or not keys:
            return [None] * len(keys)
        found = await self._cache.get_many(keys)
        hits = sum(1 for result in found if result is not None)
        self._metrics.cache_lookups(hits=hits, misses=len(keys) - hits)
        return found
