"""Per-tenant text budgets with the `limits` library, shared through Redis when configured.

``off`` turns budgets off (the default: a developer's own server should never refuse
work for being busy). Refusals name the setting and the wait, because the person who
reads them is often the one who can change it.

If Redis cannot be reached the limiter falls back to a local in-memory budget (fail-open
to local limits: each replica then enforces the limit on its own), logs that at most once
a minute, and tries Redis again a few seconds later.
"""

from __future__ import annotations

import math
import time

import structlog
from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from server.domain.errors import ResourceExhausted

log = structlog.get_logger("textlens.ratelimit")

REDIS_RETRY_SECONDS = 5.0
REDIS_WARN_EVERY_SECONDS = 60.0
# Redis must answer fast or not at all: a call waits on it before any work.
REDIS_TIMEOUT_SECONDS = 0.5
SETTING = "TEXTLENS_RATE_LIMIT"
OFF = "off"


def describe(rate: RateLimitItem) -> str:
    """``100 texts per minute``, ``5 texts per 2 hours``."""
    unit = rate.GRANULARITY.name
    per = unit if rate.multiples == 1 else f"{rate.multiples} {unit}s"
    return f"{rate.amount} texts per {per}"


def wait_phrase(seconds: float) -> str:
    """``0.4 s`` below a second, else whole seconds rounded up (never promise too early)."""
    if seconds < 1:
        return f"{max(seconds, 0.1):.1f} s"
    return f"{math.ceil(seconds)} s"


class LimitsRateLimiter:
    """Charges a tenant ``cost`` texts against ``rate`` (e.g. "100/minute", or "off")."""

    def __init__(self, rate: str, redis_url: str | None = None) -> None:
        self.rate: RateLimitItem | None = None if rate.strip().lower() == OFF else parse(rate)
        self._local = SlidingWindowCounterRateLimiter(storage_from_string("async+memory://"))
        self._shared: SlidingWindowCounterRateLimiter | None = None
        if redis_url:
            uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
            self._shared = SlidingWindowCounterRateLimiter(
                storage_from_string(
                    uri,
                    connect_timeout=REDIS_TIMEOUT_SECONDS,
                    stream_timeout=REDIS_TIMEOUT_SECONDS,
                )
            )
        self._redis_down_until = 0.0
        self._last_warning = float("-inf")

    async def acquire(self, tenant: str, cost: int = 1) -> None:
        """Charges the texts, or raises ResourceExhausted with the wait until they fit."""
        rate = self.rate
        if cost <= 0 or rate is None:
            return None
        self.check_cost(tenant, cost)
        quota = str(rate)
        limiter = await self._limiter()
        try:
            allowed = await limiter.hit(rate, tenant, cost=cost)
            if allowed:
                return None
            stats = await limiter.get_window_stats(rate, tenant)
        except Exception as exc:
            if limiter is self._local:
                raise
            self._redis_failed(exc)
            return await self.acquire(tenant, cost)
        wait = max(0.001, stats.reset_time - time.time())
        raise ResourceExhausted(
            f"rate limit of {describe(rate)} ({SETTING}) reached; retry in {wait_phrase(wait)}",
            retry_after=wait,
            subject=f"tenant:{tenant}",
            quota=quota,
        )

    def check_cost(self, tenant: str, cost: int) -> None:
        """Refuses, before any work, a request larger than the whole budget."""
        rate = self.rate
        if rate is not None and cost > rate.amount:
            raise ResourceExhausted(
                f"{cost} texts in one request exceed the whole rate limit of {describe(rate)}"
                f" ({SETTING}); send at most {rate.amount} per request or raise the limit",
                retry_after=None,
                subject=f"tenant:{tenant}",
                quota=str(rate),
            )

    async def _limiter(self) -> SlidingWindowCounterRateLimiter:
        # Redis while it answers; the local budget while it is down, retried every few seconds.
        if self._shared is not None and time.monotonic() >= self._redis_down_until:
            return self._shared
        return self._local

    def _redis_failed(self, exc: Exception) -> None:
        now = time.monotonic()
        self._redis_down_until = now + REDIS_RETRY_SECONDS
        if now - self._last_warning >= REDIS_WARN_EVERY_SECONDS:
            self._last_warning = now
            log.warning(
                "redis unreachable: rate limits are enforced per process until it returns",
                error=type(exc).__name__,
            )
