"""The fakes the use-case tests share, one of each per test."""

from __future__ import annotations

import pytest
from helpers.fakes import FakeClock, FakeMetrics, FakeRateLimiter, FakeStorage


@pytest.fixture
def store() -> FakeStorage:
    return FakeStorage()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def metrics() -> FakeMetrics:
    return FakeMetrics()


@pytest.fixture
def limiter() -> FakeRateLimiter:
    return FakeRateLimiter()
