"""Runs the analyzers for every way in (unary, stream, batch), reusing cached results."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import structlog

from server.domain.analyzers.base import AnalysisResult, Analyzer
from server.domain.language import UNDETECTED, Language
from server.domain.model import Analysis, AnalysisStatus, AnalysisType, new_id, payload_hash
from server.service.ports import CachedResult, CacheKey, Metrics, NoMetrics, ResultCache

log = structlog.get_logger("textlens.analyst")

ANALYZER_FAILED_MESSAGE = "the analyzer could not process this text"

Clock = Callable[[], datetime]
T = TypeVar("T")

# Work on the event loop (analysis of short texts, a stream message's cache, encoding and
# rows) hands it back this often so calls keep flowing: another call waits about this long
# for each of the several turns of the loop it needs.
_SLICE_SECONDS = 0.002
# Longer texts are analysed in a thread: the costliest analysis per character (emoji,
# for sentiment) takes about 6 ms at this length, ten times that at 10,000 characters,
# which would hold every other call of the process. For short texts the hand-off would
# cost more than the analysis.
INLINE_CHARS = 1_000
# Analysis is CPU work under the GIL: more threads would not make it faster, and each one
# more competes with the event loop for the GIL.
ANALYSIS_THREADS = 1
# While the analysis thread runs, the event loop waits up to the interpreter's switch
# interval each time it takes the GIL back (after every poll for I/O), and a call takes it
# back several times. At CPython's default of 5 ms, 10,000-emoji texts from one tenant
# held another's paced calls to 40% of their rate; at 1 ms they kept it (tests/reliability).
SWITCH_INTERVAL_SECONDS = 0.001


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
    cached: CachedResult | None = None,
    language: Language = UNDETECTED,
) -> Analysis:
    """Runs the analyzer on a validated text (or takes its ``cached`` result); a failure
    is recorded, never raised."""
    created = clock()
    start = time.perf_counter()
    result: AnalysisResult | None = cached.result if cached is not None else None
    if result is None:
        try:
            result = analyzer.analyze(text)
        except Exception:
            # The message stored for the caller says nothing of the cause; the log does.
            log.exception("analyzer failed", analyzer=analyzer.info.name)
    # A reused result reports the time its analysis took: a hit is told from a miss by
    # nothing in the answer (a fresh analysis of the same text takes about as long).
    elapsed_ms = (
        cached.processing_time_ms if cached is not None else (time.perf_counter() - start) * 1000
    )
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


class Analyst:
    def __init__(
        self,
        analyzers: Mapping[AnalysisType, Analyzer],
        *,
        cache: ResultCache | None = None,
        cache_secret: bytes = b"",
        metrics: Metrics | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.analyzers = analyzers
        self._cache = cache
        self._cache_secret = cache_secret
        self._metrics = metrics or NoMetrics()
        self._clock = clock
        self._threads = ThreadPoolExecutor(ANALYSIS_THREADS, thread_name_prefix="analysis")

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def run(self, tenant: str, jobs: Sequence[Job]) -> list[Analysis]:
        """One analysis per job, in order; every one a new analysis of its own."""
        keys = (
            [self._key(tenant, job.analysis_type, job.text) for job in jobs]
            if self._cache is not None
            else [_NO_KEY] * len(jobs)
        )
        cached = await self._lookup(keys)
        # Long texts not in the cache are analysed in a thread, all together, while the
        # short ones (and the cached) are done here.
        long = {
            i for i, job in enumerate(jobs) if cached[i] is None and len(job.text) > INLINE_CHARS
        }
        offloaded = self._in_thread(tenant, [(i, jobs[i]) for i in sorted(long)]) if long else None
        done: dict[int, Analysis] = {}
        async for i in cooperatively(i for i in range(len(jobs)) if i not in long):
            done[i] = self._analyze(tenant, jobs[i], cached[i])
        if offloaded is not None:
            done.update(await offloaded)
        analyses = [done[i] for i in range(len(jobs))]
        fresh = [
            (key, CachedResult(job.analysis_type, analysis.result, analysis.processing_time_ms))
            for job, key, hit, analysis in zip(jobs, keys, cached, analyses, strict=True)
            if hit is None and analysis.result is not None
        ]
        if self._cache is not None and fresh:
            await self._cache.put_many(fresh)
        return analyses

    def _in_thread(
        self, tenant: str, jobs: list[tuple[int, Job]]
    ) -> asyncio.Future[dict[int, Analysis]]:
        context = contextvars.copy_context()  # the call's log context goes along

        def analyze_all() -> dict[int, Analysis]:
            return {i: self._analyze(tenant, job, None) for i, job in jobs}

        return asyncio.get_running_loop().run_in_executor(self._threads, context.run, analyze_all)

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
