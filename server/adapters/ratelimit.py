"""Per-tenant text budgets with the `limits` library, shared through Redis when configured.

If Redis cannot be reached the limiter falls back to a local in-memory budget (fail-open
to local limits: each replica then enforces the limit on its own), logs that at most once
a minute, and tries Redis again a few seconds later.
"""

from __future__ import annotations

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


class LimitsRateLimiter:
    """Charges a tenant ``cost`` texts against ``rate`` (e.g. "100/minute")."""

    def __init__(self, rate: str, redis_url: str | None = None) -> None:
        self.rate: RateLimitItem = parse(rate)
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
        if cost <= 0:
            return None
        quota = str(self.rate)
        if cost > self.rate.amount:
            raise ResourceExhausted(
                f"{cost} texts in one request exceed the rate limit of {quota}",
                retry_after=None,
                subject=f"tenant:{tenant}",
                quota=quota,
            )
        limiter = await self._limiter()
        try:
            allowed = await limiter.hit(self.rate, tenant, cost=cost)
            if allowed:
                return None
            stats = await limiter.get_window_stats(self.rate, tenant)
        except Exception as exc:
            if limiter is self._local:
                raise
            self._redis_failed(exc)
            return await self.acquire(tenant, cost)
        raise ResourceExhausted(
            f"rate limit of {quota} exceeded for this tenant",
            retry_after=max(0.001, stats.reset_time - time.time()),
            subject=f"tenant:{tenant}",
            quota=quota,
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
