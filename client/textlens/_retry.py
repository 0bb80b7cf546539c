"""Retrying idempotent calls: exponential backoff with full jitter inside the call's deadline.

Which calls are retried is decided by the client, method by method: reads (get, list,
health), deletes, creates (made idempotent by a ``request_id`` the client fills in), and
the restart of a broken WatchBatch stream. CancelBatch and AnalyzeStream are never
retried: a lost CancelBatch answer would come back FAILED_PRECONDITION, and stream items
carry no idempotency key.

What is retried: UNAVAILABLE always (server restarting, draining, or its database
down), with a backoff of ``initial * multiplier ** n`` capped at ``maximum`` and drawn
uniformly from ``[0, backoff]``; RESOURCE_EXHAUSTED only when the server sent a
RetryInfo delay (rate limiting; gRPC's own "message too large" has none), after that
delay plus up to 10% jitter. Nothing else. Retrying stops at ``max_attempts`` or when
the next attempt could not start before the deadline; the last error is raised then,
with ``attempts`` set, so the caller sees the real cause rather than a timeout.

``on_retry`` (like api_core's ``on_error``) is told of each wait before it starts: the
command line prints "rate limited, retrying in 12 s" from it.

This is the only retry layer: gRPC's own retries are left off even when the published
service config is in use (see ``_channel``), so attempts never multiply.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from textlens._errors import ResourceExhausted, TextLensError, Unavailable

T = TypeVar("T")


#: Called with the error and the seconds the client will wait before trying again.
RetryListener = Callable[[TextLensError, float], None]


@dataclass(frozen=True, slots=True)
class Retry:
    """How a retryable call is retried; ``Retry(max_attempts=1)`` turns retrying off.

    ``on_retry(error, seconds)`` is called before each wait, to tell a user why nothing
    seems to happen; it must not block.
    """

    initial: float = 0.1
    maximum: float = 5.0
    multiplier: float = 2.0
    max_attempts: int = 10
    on_retry: RetryListener | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.multiplier < 1:
            raise ValueError("Retry needs 0 < initial <= maximum and multiplier >= 1")
        if self.max_attempts < 1:
            raise ValueError("Retry.max_attempts must be at least 1")

    def backoff(self, attempt: int) -> float:
        """The backoff cap after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.maximum, self.initial * self.multiplier ** (attempt - 1)))

    def delay(
        self, error: TextLensError, attempt: int, uniform: Callable[[], float]
    ) -> float | None:
        """Seconds to wait before the next attempt, or None if ``error`` is not retryable.

        ``uniform`` returns a float in [0, 1); it is ``random.random`` outside tests.
        """
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, ResourceExhausted):
            if error.retry_delay is None:
                return None
            return error.retry_delay * (1 + 0.1 * uniform())
        if isinstance(error, Unavailable):
            if error.retry_delay is not None:
                return error.retry_delay
            return self.backoff(attempt) * uniform()
        return None


class Clock(Protocol):
    """Time as the retry loop sees it; tests pass a fake one."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    def uniform(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def uniform(self) -> float:
        return random.random()


SYSTEM_CLOCK = SystemClock()


def deadline_after(timeout: float | None, clock: Clock = SYSTEM_CLOCK) -> float | None:
    """The monotonic instant a call with this timeout must end by."""
    return None if timeout is None else clock.monotonic() + timeout


def remaining(deadline: float | None, clock: Clock = SYSTEM_CLOCK) -> float | None:
    return None if deadline is None else deadline - clock.monotonic()


def next_wait(
    error: TextLensError,
    attempt: int,
    *,
    retry: Retry | None,
    deadline: float | None,
    clock: Clock,
) -> float | None:
    """Seconds to wait before trying again after failed attempt number ``attempt``, or
    None to raise ``error``; tells ``retry.on_retry`` when it will wait."""
    wait = None if retry is None else retry.delay(error, attempt, clock.uniform)
    if wait is None:
        return None
    left = remaining(deadline, clock)
    if left is not None and wait >= left:
        return None
    if retry is not None and retry.on_retry is not None:
        retry.on_retry(error, wait)
    return wait


async def call_with_retry(
    attempt: Callable[[float | None], Awaitable[T]],
    *,
    retry: Retry | None,
    deadline: float | None,
    clock: Clock = SYSTEM_CLOCK,
) -> T:
    """Runs ``attempt(timeout_left)`` until it succeeds or may no longer be retried."""
    number = 0
    while True:
        number += 1
        try:
            return await attempt(remaining(deadline, clock))
        except TextLensError as error:
            error.attempts = number
            wait = next_wait(error, number, retry=retry, deadline=deadline, clock=clock)
            if wait is None:
                raise
            await clock.sleep(wait)
