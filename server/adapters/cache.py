"""Result caches: an in-process LRU by default, Redis when TEXTLENS_REDIS_URL is set.

Neither holds a text in the clear. Entries are named by a keyed hash of tenant, analyzer
and text, and what a result repeats of its text (sentence texts, words quoted by quality
issues) is kept out of the entry or sealed with AES-GCM under a key derived from that
same text: an entry opens only for a caller of the same tenant who sends the text again,
and a copy of Redis or of the process's cache reveals no text. The in-process cache keeps
sentence lengths (the sentences are cut from the request's text again) and seals other
strings, so a hit costs microseconds; Redis entries are sealed whole.

A cache is an optimisation, never a dependency: a Redis that fails is skipped (every
lookup a miss) for a few seconds, and that is logged at most once a minute. An entry that
does not open (a key from another secret, a corrupt value) is a miss.
"""

from __future__ import annotations

import os
import pickle
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.adapters import rows
from server.config import Settings
from server.domain.analyzers.base import (
    AnalysisResult,
    QualityIssue,
    QualityResult,
    SentenceSentiment,
    SentimentResult,
    result_from_dict,
)
from server.domain.model import AnalysisType
from server.service.concurrency import off_loop_if_long
from server.service.ports import CachedResult, CacheKey

log = structlog.get_logger("textlens.cache")
T = TypeVar("T")

REDIS_RETRY_SECONDS = 5.0
REDIS_WARN_EVERY_SECONDS = 60.0
REDIS_TIMEOUT_SECONDS = 0.25
REDIS_TTL_SECONDS = 24 * 3600
_PREFIX = "textlens:result:v2:"
_NONCE_BYTES = 12
# Joins the sealed strings of an in-process entry: U+0000 is in no text the server accepts.
_SEPARATOR = "\x00"


def seal(key: CacheKey, plaintext: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key.secret).encrypt(nonce, plaintext, key.id.encode())


def unseal(key: CacheKey, sealed: bytes) -> bytes | None:
    """The plaintext, or None if the entry was not sealed with this key (or was altered)."""
    try:
        return AESGCM(key.secret).decrypt(
            sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], key.id.encode()
        )
    except (InvalidTag, ValueError):
        return None


def without_text(result: AnalysisResult) -> tuple[AnalysisResult, list[str]]:
    """The result with every string taken from its text blanked, and those strings in order."""
    if isinstance(result, SentimentResult):
        strings = [sentence.text for sentence in result.sentences]
        sentences = tuple(
            SentenceSentiment("", s.offset, s.score, s.label) for s in result.sentences
        )
        return _replace_sentences(result, sentences), strings
    if isinstance(result, QualityResult):
        strings = [issue.message for issue in result.issues]
        issues = tuple(QualityIssue(i.kind, "", i.offset, i.length) for i in result.issues)
        return _replace_issues(result, issues), strings
    return result, []  # emotion results name categories, never words of the text


def with_text(result: AnalysisResult, strings: list[str]) -> AnalysisResult:
    """The inverse of ``without_text``."""
    if isinstance(result, SentimentResult):
        sentences = tuple(
            SentenceSentiment(text, s.offset, s.score, s.label)
            for s, text in zip(result.sentences, strings, strict=True)
        )
        return _replace_sentences(result, sentences)
    if isinstance(result, QualityResult):
        issues = tuple(
            QualityIssue(i.kind, message, i.offset, i.length)
            for i, message in zip(result.issues, strings, strict=True)
        )
        return _replace_issues(result, issues)
    return result


def _replace_sentences(
    result: SentimentResult, sentences: tuple[SentenceSentiment, ...]
) -> SentimentResult:
    return SentimentResult(
        result.score,
        result.label,
        result.magnitude,
        result.positive,
        result.negative,
        result.neutral,
        sentences,
        result.analyzer,
    )


def _replace_issues(result: QualityResult, issues: tuple[QualityIssue, ...]) -> QualityResult:
    return QualityResult(
        result.score,
        result.flesch_reading_ease,
        result.grade_level,
        result.word_count,
        result.sentence_count,
        result.syllable_count,
        result.lexical_diversity,
        issues,
        result.analyzer,
    )


async def _off_loop(keys: Sequence[CacheKey], work: Callable[[], T]) -> T:
    """Entries of long texts take milliseconds to open or build."""
    return await off_loop_if_long(sum(len(key.text) for key in keys), work)


# An in-process entry: the result without its text, pickled, and its sealed strings if any.
# Sentiment and emotion results are pickled as rows (server.adapters.rows), a sentiment
# row with its sentences' lengths, cut from the request's text again when it is opened.
_Entry = tuple[bytes, bytes | None]


class LruResultCache:
    """The most recently used results of this process, up to ``max_entries``.

    An entry keeps the result without the strings taken from its text. Sentence texts are
    slices of the request's text: the entry keeps their lengths and a hit cuts them from
    the text again. Other strings (the words a quality issue quotes) are sealed. 1,024
    entries stay under a few MB a process, enough for the texts that do repeat.

    Entries are bytes and numbers, not result objects: a long text's result is hundreds of
    objects, and a cache full of them would be hundreds of thousands that every full
    garbage collection walks, holding the event loop for a tenth of a second each time.
    """

    def __init__(self, max_entries: int = 1_024) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max = max_entries

    async def get_many(self, keys: Sequence[CacheKey]) -> list[CachedResult | None]:
        entries: list[tuple[CacheKey, _Entry] | None] = []
        for key in keys:
            entry = self._entries.get(key.id)
            if entry is not None:
                self._entries.move_to_end(key.id)
                entries.append((key, entry))
            else:
                entries.append(None)

        def open_all() -> list[CachedResult | None]:
            return [self._open(e[0], *e[1]) if e is not None else None for e in entries]

        return await _off_loop(keys, open_all)

    @staticmethod
    def _open(key: CacheKey, pickled: bytes, sealed: bytes | None) -> CachedResult | None:
        value = pickle.loads(pickled)  # noqa: S301 - made by _entry, in memory
        if rows.is_row(value):
            return CachedResult(*rows.from_row(value, key.text))
        blank: CachedResult = value
        if sealed is None:
            return blank  # nothing was taken out
        plaintext = unseal(key, sealed)
        if plaintext is None:
            return None
        strings = plaintext.decode().split(_SEPARATOR)
        result = with_text(blank.result, strings)
        return CachedResult(blank.analysis_type, result, blank.processing_time_ms)

    async def put_many(self, items: Sequence[tuple[CacheKey, CachedResult]]) -> None:
        def build_all() -> list[_Entry | None]:
            return [self._entry(key, cached) for key, cached in items]

        built = await _off_loop([key for key, _ in items], build_all)
        for (key, _), entry in zip(items, built, strict=True):
            if entry is None:
                continue
            self._entries[key.id] = entry
            self._entries.move_to_end(key.id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    @staticmethod
    def _entry(key: CacheKey, cached: CachedResult) -> _Entry | None:
        result = cached.result
        row = rows.to_row(result, cached.processing_time_ms, text=key.text)
        if row is not None:
            return pickle.dumps(row, pickle.HIGHEST_PROTOCOL), None
        blank, strings = without_text(result)
        stripped = CachedResult(cached.analysis_type, blank, cached.processing_time_ms)
        pickled = pickle.dumps(stripped, pickle.HIGHEST_PROTOCOL)
        if not strings:
            return pickled, None
        if any(_SEPARATOR in string for string in strings):
            return None  # never from a validated text; not worth a costlier encoding
        return pickled, seal(key, _SEPARATOR.join(strings).encode())

    async def delete_many(self, keys: Sequence[CacheKey]) -> None:
        for key in keys:
            self._entries.pop(key.id, None)


def _encode(cached: CachedResult) -> bytes:
    return orjson.dumps(
        {
            "type": int(cached.analysis_type),
            "ms": cached.processing_time_ms,
            "result": cached.result.to_dict(),
        }
    )


def _decode(plaintext: bytes) -> CachedResult:
    data: dict[str, Any] = orjson.loads(plaintext)
    kind = AnalysisType(data["type"])
    return CachedResult(kind, result_from_dict(kind, data["result"]), float(data["ms"]))


class RedisResultCache:
    """Results shared by every replica (which share the secret the keys derive from),
    each sealed whole, with a TTL."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis  # noqa: PLC0415 - only with TEXTLENS_REDIS_URL

        self._redis = Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._down_until = 0.0
        self._last_warning = float("-inf")

    async def get_many(self, keys: Sequence[CacheKey]) -> list[CachedResult | None]:
        if not keys or time.monotonic() < self._down_until:
            return [None] * len(keys)
        try:
            values = await self._redis.mget([_PREFIX + key.id for key in keys])
        except Exception as exc:  # noqa: BLE001 - any failure: a miss, not an error
            self._failed(exc)
            return [None] * len(keys)
        found: list[CachedResult | None] = []
        for key, value in zip(keys, values, strict=True):
            # The client is made without decode_responses: values are bytes.
            plaintext = unseal(key, value) if isinstance(value, bytes) else None
            found.append(_decode(plaintext) if plaintext is not None else None)
        return found

    async def put_many(self, items: Sequence[tuple[CacheKey, CachedResult]]) -> None:
        if not items or time.monotonic() < self._down_until:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, cached in items:
                    pipe.set(_PREFIX + key.id, seal(key, _encode(cached)), ex=REDIS_TTL_SECONDS)
                await pipe.execute()
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    async def delete_many(self, keys: Sequence[CacheKey]) -> None:
        if not keys:
            return
        # Tried even while Redis is thought down: a stale entry must not outlive a delete
        # that could have removed it.
        try:
            await self._redis.delete(*(_PREFIX + key.id for key in keys))
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        self._down_until = now + REDIS_RETRY_SECONDS
        if now - self._last_warning >= REDIS_WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning("redis unreachable: the result cache is skipped", error=type(exc).__name__)

    async def close(self) -> None:
        await self._redis.aclose()


ResultCacheAdapter = LruResultCache | RedisResultCache


def result_cache(settings: Settings) -> ResultCacheAdapter | None:
    """Redis's when configured, else this process's LRU; none with a size of 0."""
    if settings.result_cache_size == 0:
        return None
    if settings.redis_url:
        return RedisResultCache(settings.redis_url)
    return LruResultCache(settings.result_cache_size)
