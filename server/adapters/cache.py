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

import functools
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

from server.config import Settings
from server.domain.analyzers.base import (
    AnalysisResult,
    AnalyzerInfo,
    Emotion,
    EmotionCategory,
    EmotionResult,
    QualityIssue,
    QualityResult,
    SentenceSentiment,
    SentimentLabel,
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


# Makes a SentenceSentiment from a tuple of its fields without a Python call.
_SENTENCE = functools.partial(tuple.__new__, SentenceSentiment)


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


# An in-process entry: the result without its text, pickled, and how to put the text back:
# the lengths of its sentences (slices of the request's text), or the sealed strings.
# Sentiment and emotion results are pickled as rows of plain numbers and strings, a
# sentiment result's sentences in columns (offsets, scores, labels): pickle handles those
# in C, where the result's own classes would each take a Python call to pickle and another
# to unpickle. A row starts with its analysis type; anything else is a CachedResult.
_Entry = tuple[bytes, tuple[int, ...] | None, bytes | None]
_Row = tuple[Any, ...]
_SENTIMENT, _EMOTION = int(AnalysisType.SENTIMENT), int(AnalysisType.EMOTION)
_LABELS = {int(label): label for label in SentimentLabel}
_EMOTIONS = {int(emotion): emotion for emotion in Emotion}
# The analyzers that entries name: a few, made once each and shared by every entry opened.
_ANALYZERS: dict[tuple[str, str, str, str], AnalyzerInfo] = {}
_CATEGORY = functools.partial(tuple.__new__, EmotionCategory)


def _analyzer_fields(info: AnalyzerInfo) -> tuple[str, str, str, str]:
    return info.name, info.version, info.lexicon, info.model_sha256


def _analyzer(fields: tuple[str, str, str, str]) -> AnalyzerInfo:
    info = _ANALYZERS.get(fields)
    if info is None:
        info = _ANALYZERS[fields] = AnalyzerInfo(*fields)
    return info


def _sentiment_row(cached: CachedResult, result: SentimentResult) -> tuple[_Row, tuple[int, ...]]:
    """The row of a result whose sentences are slices of its text, and their lengths."""
    texts, offsets, scores, labels = tuple(zip(*result.sentences, strict=True)) or ((),) * 4
    row = (
        _SENTIMENT,
        cached.processing_time_ms,
        result.score,
        int(result.label),
        result.magnitude,
        result.positive,
        result.negative,
        result.neutral,
        _analyzer_fields(result.analyzer),
        offsets,
        scores,
        tuple(map(int, labels)),
    )
    return row, tuple(map(len, texts))


def _sentiment(row: _Row, text: str, lengths: tuple[int, ...]) -> CachedResult:
    _, ms, score, label, magnitude, positive, negative, neutral, analyzer = row[:9]
    offsets, scores, labels = row[9:]
    texts = [text[offset : offset + n] for offset, n in zip(offsets, lengths, strict=True)]
    sentences = zip(texts, offsets, scores, map(_LABELS.__getitem__, labels), strict=True)
    result = SentimentResult(
        score,
        _LABELS[label],
        magnitude,
        positive,
        negative,
        neutral,
        tuple(map(_SENTENCE, sentences)),  # each sentence made once, in C
        _analyzer(analyzer),
    )
    return CachedResult(AnalysisType.SENTIMENT, result, ms)


def _emotion_row(cached: CachedResult, result: EmotionResult) -> _Row:
    names, scores = tuple(zip(*result.categories, strict=True)) or ((), ())
    return (
        _EMOTION,
        cached.processing_time_ms,
        result.anger,
        result.anticipation,
        result.disgust,
        result.fear,
        result.joy,
        result.sadness,
        result.surprise,
        result.trust,
        int(result.dominant),
        result.matched_word_count,
        _analyzer_fields(result.analyzer),
        result.neutral,
        names,
        scores,
    )


def _emotion(row: _Row) -> CachedResult:
    _, ms, anger, anticipation, disgust, fear, joy, sadness, surprise, trust = row[:10]
    dominant, matched, analyzer, neutral, names, scores = row[10:]
    result = EmotionResult(
        anger=anger,
        anticipation=anticipation,
        disgust=disgust,
        fear=fear,
        joy=joy,
        sadness=sadness,
        surprise=surprise,
        trust=trust,
        dominant=_EMOTIONS[dominant],
        matched_word_count=matched,
        analyzer=_analyzer(analyzer),
        neutral=neutral,
        categories=tuple(map(_CATEGORY, zip(names, scores, strict=True))),
    )
    return CachedResult(AnalysisType.EMOTION, result, ms)


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
    def _open(
        key: CacheKey, pickled: bytes, lengths: tuple[int, ...] | None, sealed: bytes | None
    ) -> CachedResult | None:
        value = pickle.loads(pickled)  # noqa: S301 - made by _entry, in memory
        if isinstance(value, tuple):
            if value[0] == _SENTIMENT and lengths is not None:
                return _sentiment(value, key.text, lengths)
            return _emotion(value)
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
        if isinstance(result, SentimentResult) and all(
            key.text[s.offset : s.offset + len(s.text)] == s.text for s in result.sentences
        ):
            row, lengths = _sentiment_row(cached, result)
            return pickle.dumps(row, pickle.HIGHEST_PROTOCOL), lengths, None
        if isinstance(result, EmotionResult):  # names categories, never words of the text
            return pickle.dumps(_emotion_row(cached, result), pickle.HIGHEST_PROTOCOL), None, None
        blank, strings = without_text(result)
        stripped = CachedResult(cached.analysis_type, blank, cached.processing_time_ms)
        pickled = pickle.dumps(stripped, pickle.HIGHEST_PROTOCOL)
        if not strings:
            return pickled, None, None
        if any(_SEPARATOR in string for string in strings):
            return None  # never from a validated text; not worth a costlier encoding
        return pickled, None, seal(key, _SEPARATOR.join(strings).encode())

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
