"""Running storage work so that cancelling a call never interrupts it halfway."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def run_to_completion(coro: Awaitable[T]) -> T:
    """Awaits ``coro``; if the caller is cancelled meanwhile, lets it finish first.

    Database drivers cannot be interrupted mid-statement safely (a cancelled statement
    leaves its connection, and SQLite's write lock, in an unknown state), so a cancelled
    call finishes the short unit of work it started and only then sees the cancellation.
    """
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise
