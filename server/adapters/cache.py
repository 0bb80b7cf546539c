"""Result caches: an in-process LRU by default, Redis when TEXTLENS_REDIS_URL is set.

A cache is an optimisation, never a dependency: a Redis that fails is skipped (every
lookup a miss) for a few seconds, and that is logged at most once a minute.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Sequence

import structlog

from server.domain.analyzers.base import AnalysisResult, result_from_dict
from server.domain.model import AnalysisType

log = structlog.get_logger("textlens.cache")

REDIS_RETRY_SECONDS = 5.0
REDIS_WARN_EVERY_SECONDS = 60.0
REDIS_TIMEOUT_SECONDS = 0.25
REDIS_TTL_SECONDS = 7 * 24 * 3600
_PREFIX = "textlens:result:"


def _type_of(key: str) -> AnalysisType:
    return AnalysisType(int(key.split(":", 1)[0]))


class LruResultCache:
    """The most recently used results of this process, up to ``max_entries``.

    A result of a long text weighs about 8 KB (its sentences): 1,024 of them keep the
    cache under 10 MB a process, enough for the texts that do repeat.
    """

    def __init__(self, max_entries: int = 1_024) -> None:
        self._entries: OrderedDict[str, AnalysisResult] = OrderedDict()
        self._max = max_entries

    async def get_many(self, keys: Sequence[str]) -> list[AnalysisResult | None]:
        found: list[AnalysisResult | None] = []
        for key in keys:
            result = self._entries.get(key)
            if result is not None:
                self._entries.move_to_end(key)
            found.append(result)
        return found

    async def put_many(self, items: Sequence[tuple[str, AnalysisResult]]) -> None:
        for key, result in items:
            self._entries[key] = result
            self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


class RedisResultCache:
    """Results shared by every replica, as JSON with a TTL."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis  # noqa: PLC0415 - only with TEXTLENS_REDIS_URL

        self._redis = Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._down_until = 0.0
        self._last_warning = float("-inf")

    async def get_many(self, keys: Sequence[str]) -> list[AnalysisResult | None]:
        if not keys or time.monotonic() < self._down_until:
            return [None] * len(keys)
        try:
            values = await self._redis.mget([_PREFIX + key for key in keys])
        except Exception as exc:  # noqa: BLE001 - any failure: a miss, not an error
            self._failed(exc)
            return [None] * len(keys)
        return [
            result_from_dict(_type_of(key), json.loads(value)) if value is not None else None
            for key, value in zip(keys, values, strict=True)
        ]

    async def put_many(self, items: Sequence[tuple[str, AnalysisResult]]) -> None:
        if not items or time.monotonic() < self._down_until:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, result in items:
                    pipe.set(_PREFIX + key, json.dumps(result.to_dict()), ex=REDIS_TTL_SECONDS)
                await pipe.execute()
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
