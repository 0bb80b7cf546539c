"""Backoff, jitter and the deadline, with a fake clock: no test here waits for real."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import textlens
from textlens._retry import Retry, call_with_retry


class FakeClock:
    def __init__(self, draw: float = 0.5) -> None:
        self.now = 100.0
        self.draw = draw
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def uniform(self) -> float:
        return self.draw


def failing(
    errors: list[textlens.TextLensError], clock: FakeClock, cost: float = 0.0
) -> tuple[Callable[[float | None], object], list[float | None]]:
    """An attempt that raises the given errors in turn, then returns "ok"."""
    timeouts: list[float | None] = []

    async def attempt(left: float | None) -> str:
        timeouts.append(left)
        clock.now += cost
        if errors:
            raise errors.pop(0)
        return "ok"

    return attempt, timeouts


def unavailable() -> textlens.Unavailable:
    return textlens.Unavailable("server down")


def rate_limited(delay: float | None) -> textlens.ResourceExhausted:
    return textlens.ResourceExhausted("slow down", retry_delay=delay)


async def test_unavailable_is_retried_with_exponential_full_jitter_backoff() -> None:
    clock = FakeClock(draw=0.5)
    attempt, _ = failing([unavailable() for _ in range(4)], clock)
    result = await call_with_retry(attempt, retry=Retry(), deadline=None, clock=clock)
    assert result == "ok"
    # Caps 0.1, 0.2, 0.4, 0.8 drawn at the middle of [0, cap].
    assert clock.sleeps == pytest.approx([0.05, 0.1, 0.2, 0.4])


async def test_backoff_is_capped_at_the_maximum() -> None:
    clock = FakeClock(draw=0.999)
    policy = Retry(initial=1, maximum=3, multiplier=10)
    attempt, _ = failing([unavailable() for _ in range(3)], clock)
    await call_with_retry(attempt, retry=policy, deadline=None, clock=clock)
    assert clock.sleeps == pytest.approx([0.999, 2.997, 2.997])


async def test_each_attempt_gets_the_time_left_before_the_deadline() -> None:
    clock = FakeClock(draw=0.5)
    attempt, timeouts = failing([unavailable(), unavailable()], clock, cost=1.0)
    await call_with_retry(attempt, retry=Retry(), deadline=clock.now + 10, clock=clock)
    assert timeouts == pytest.approx([10.0, 10 - 1 - 0.05, 10 - 2 - 0.05 - 0.1])


async def test_retrying_stops_when_the_next_wait_would_pass_the_deadline() -> None:
    clock = FakeClock(draw=0.9)
    attempt, timeouts = failing([unavailable() for _ in range(100)], clock, cost=1.0)
    with pytest.raises(textlens.Unavailable) as caught:
        await call_with_retry(
            attempt, retry=Retry(initial=1, maximum=4), deadline=clock.now + 5, clock=clock
        )
    # 1 s attempt, 0.9 s wait, 1 s attempt, 1.8 s wait, 1 s attempt: 0.3 s left < 3.6.
    assert len(timeouts) == 3
    assert caught.value.attempts == 3
    assert "after 3 attempts" in str(caught.value)


async def test_retrying_stops_after_max_attempts() -> None:
    clock = FakeClock()
    attempt, timeouts = failing([unavailable() for _ in range(10)], clock)
    with pytest.raises(textlens.Unavailable):
        await call_with_retry(attempt, retry=Retry(max_attempts=3), deadline=None, clock=clock)
    assert len(timeouts) == 3


async def test_rate_limiting_waits_the_servers_retry_delay_plus_a_little_jitter() -> None:
    clock = FakeClock(draw=0.5)
    attempt, _ = failing([rate_limited(2.0), rate_limited(2.0)], clock)
    assert await call_with_retry(attempt, retry=Retry(), deadline=clock.now + 30, clock=clock)
    assert clock.sleeps == pytest.approx([2.1, 2.1])


async def test_rate_limiting_fails_at_once_when_the_delay_does_not_fit_the_deadline() -> None:
    clock = FakeClock()
    attempt, timeouts = failing([rate_limited(60.0)], clock)
    with pytest.raises(textlens.ResourceExhausted) as caught:
        await call_with_retry(attempt, retry=Retry(), deadline=clock.now + 30, clock=clock)
    assert clock.sleeps == []
    assert len(timeouts) == 1
    assert caught.value.retry_delay == 60.0


async def test_resource_exhausted_without_retry_info_is_not_retried() -> None:
    # gRPC's own "message larger than max" is RESOURCE_EXHAUSTED with no RetryInfo.
    clock = FakeClock()
    attempt, timeouts = failing([rate_limited(None)], clock)
    with pytest.raises(textlens.ResourceExhausted):
        await call_with_retry(attempt, retry=Retry(), deadline=None, clock=clock)
    assert len(timeouts) == 1


@pytest.mark.parametrize(
    "error",
    [
        textlens.InvalidArgument("bad"),
        textlens.NotFound("gone"),
        textlens.DeadlineExceeded("late"),
        textlens.Internal("boom"),
        textlens.Unauthenticated("who"),
        textlens.Unknown("?"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_other_errors_are_never_retried(error: textlens.TextLensError) -> None:
    clock = FakeClock()
    attempt, timeouts = failing([error], clock)
    with pytest.raises(type(error)):
        await call_with_retry(attempt, retry=Retry(), deadline=None, clock=clock)
    assert len(timeouts) == 1


async def test_no_policy_means_one_attempt() -> None:
    clock = FakeClock()
    attempt, timeouts = failing([unavailable()], clock)
    with pytest.raises(textlens.Unavailable):
        await call_with_retry(attempt, retry=None, deadline=None, clock=clock)
    assert len(timeouts) == 1


def test_nonsense_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="initial"):
        Retry(initial=0)
    with pytest.raises(ValueError, match="max_attempts"):
        Retry(max_attempts=0)
