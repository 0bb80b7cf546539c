"""Shared batch watching: one poll per watched batch per process, fanned out to its watchers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from server.domain.model import Batch, BatchStatus
from server.service.concurrency import run_to_completion

Load = Callable[[str, str], Awaitable[Batch]]


def _progress(batch: Batch) -> tuple[bool, int, bool]:
    """Orders the snapshots of one batch: counts only grow and a finished batch stays
    finished, so a later snapshot never ranks lower (clocks of replicas play no part)."""
    return (
        batch.status.finished,
        batch.completed_count + batch.failed_count,
        batch.status != BatchStatus.PENDING,
    )


class _Feed:
    """The latest snapshot of one watched batch, and the watchers waiting on it."""

    def __init__(self, latest: Batch) -> None:
        self.latest = latest
        self.failed = False
        self.watchers = 0
        self.task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def offer(self, batch: Batch) -> None:
        if _progress(batch) > _progress(self.latest):
            self.latest = batch
            self._wake()

    def fail(self) -> None:
        self.failed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def after(self, seen: Batch) -> Batch | None:
        """The first snapshot ahead of ``seen``; None if the shared poll failed."""
        while not self.failed and _progress(self.latest) <= _progress(seen):
            await self._changed.wait()
        return None if self.failed else self.latest


class WatchHub:
    """Polls each watched batch once per interval, whatever the number of its watchers
    in this process, and hands every watcher the changes it has not seen yet."""

    def __init__(self, load: Load, interval: float) -> None:
        self._load = load
        self._interval = interval
        self._feeds: dict[tuple[str, str], _Feed] = {}

    async def watch(self, tenant: str, batch_id: str) -> AsyncIterator[Batch]:
        """The current snapshot, then one per change (coalesced), ending with the finished
        one. A watcher joining a batch already watched here starts from the shared
        snapshot, so joining costs no query either."""
        key = (tenant, batch_id)
        shared = self._feeds.get(key)
        last = shared.latest if shared is not None else await self._load(tenant, batch_id)
        yield last
        if last.status.finished:
            return
        feed: _Feed | None = self._join(key, last)
        try:
            while not last.status.finished:
                assert feed is not None
                current = await feed.after(last)
                if current is None:
                    # The shared poll failed: this watcher's own look raises the error it
                    # should see (UNAVAILABLE while the database is down), or finds that
                    # the failure has passed and carries on with a fresh poll.
                    self._leave(key, feed)
                    feed = None
                    current = await run_to_completion(self._load(tenant, batch_id))
                    feed = self._join(key, current)
                if _progress(current) > _progress(last):
                    last = current
                    yield current
        finally:
            if feed is not None:
                self._leave(key, feed)

    @property
    def watched(self) -> int:
        """How many batches this process is polling now."""
        return len(self._feeds)

    def _join(self, key: tuple[str, str], seen: Batch) -> _Feed:
        feed = self._feeds.get(key)
        if feed is None:
            feed = self._feeds[key] = _Feed(seen)
            feed.task = asyncio.create_task(self._poll(key, feed), name="batch-watch-poll")
        feed.offer(seen)
        feed.watchers += 1
        return feed

    def _leave(self, key: tuple[str, str], feed: _Feed) -> None:
        feed.watchers -= 1
        if feed.watchers == 0:
            self._forget(key, feed)
            if feed.task is not None:
                feed.task.cancel()

    def _forget(self, key: tuple[str, str], feed: _Feed) -> None:
        if self._feeds.get(key) is feed:
            del self._feeds[key]

    async def _poll(self, key: tuple[str, str], feed: _Feed) -> None:
        tenant, batch_id = key
        try:
            while not feed.latest.status.finished:
                await asyncio.sleep(self._interval)
                feed.offer(await run_to_completion(self._load(tenant, batch_id)))
        except Exception:  # noqa: BLE001 - each watcher reports it
            # Each watcher then looks for itself and ends with its own error; nothing is
            # logged here, once per batch, that the calls will not log themselves.
            feed.fail()
        finally:
            self._forget(key, feed)


__all__ = ["WatchHub"]
