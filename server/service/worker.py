"""Background batch workers: claim items under a lease, analyse them, store the results."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import uuid
from datetime import timedelta

import structlog

from server.domain.errors import Unavailable
from server.domain.language import Language, Languages
from server.domain.model import Analysis
from server.service.analyst import Analyst, Job
from server.service.clock import Clock, utc_now
from server.service.concurrency import run_to_completion
from server.service.ports import ClaimedItem, Metrics, NoMetrics, UnitOfWorkFactory

log = structlog.get_logger("textlens.worker")


# Chunks analysed and waiting to be stored, at most: beyond that analysis waits.
_STORES_BEHIND = 2


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class BatchWorker:
    """One worker loop. Several per process, and any number of processes, share the work."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        analyst: Analyst,
        *,
        owner: str | None = None,
        chunk_size: int = 64,
        lease_seconds: float = 30.0,
        idle_seconds: float = 1.0,
        wake: asyncio.Event | None = None,
        metrics: Metrics | None = None,
        clock: Clock = utc_now,
        languages: Languages | None = None,
    ) -> None:
        self._languages = languages or Languages()
        self._metrics = metrics or NoMetrics()
        self._uow = uow
        self._analyst = analyst
        self.owner = owner or worker_name()
        self._chunk_size = chunk_size
        self._lease = timedelta(seconds=lease_seconds)
        self._idle = idle_seconds
        self._wake = wake or asyncio.Event()
        self._clock = clock

    async def run(self, stopping: asyncio.Event) -> None:
        """Works until ``stopping`` is set; then stores what it has analysed and releases
        whatever it still holds.

        Three steps overlap: the next chunk is claimed while the current one is analysed,
        and results are stored in the background, a bounded number of chunks behind (the
        analysis runs on this process's CPU, claims and stores mostly in the database's).
        """
        stores: asyncio.Queue[list[Analysis] | None] = asyncio.Queue(maxsize=_STORES_BEHIND)
        storer = asyncio.create_task(self._store_all(stores), name=f"{self.owner} store")
        claiming: asyncio.Future[list[ClaimedItem]] | None = None
        failures = 0
        try:
            while not stopping.is_set():
                try:
                    items = await (claiming or self._claim_soon())
                    failures = 0
                except Unavailable:
                    items, failures = [], failures + 1
                except Exception:
                    items, failures = [], failures + 1
                    log.exception("batch claim failed")
                claiming = None
                if not items:
                    await self._idle_wait(stopping, backoff=min(2.0**failures, 30.0))
                    continue
                if not stopping.is_set():
                    claiming = self._claim_soon()
                try:
                    results = await self._analyze(items)
                except Exception:
                    log.exception("batch chunk failed; its items return after their lease")
                    continue
                await stores.put(results)  # waits while storing is behind
            await stores.put(None)
            await storer
        finally:
            storer.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await storer
            if claiming is not None:
                # A claim in flight finishes (it is shielded), and is then released below.
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await claiming
            with contextlib.suppress(Exception):
                await asyncio.shield(self.release())

    def _claim_soon(self) -> asyncio.Future[list[ClaimedItem]]:
        return asyncio.ensure_future(run_to_completion(self._claim()))

    async def _store_all(self, stores: asyncio.Queue[list[Analysis] | None]) -> None:
        while (results := await stores.get()) is not None:
            try:
                await run_to_completion(self._store(results))
            except Unavailable:
                log.warning("database unavailable; batch items return after their lease")
            except Exception:
                log.exception("batch chunk not stored; its items return after their lease")

    async def _idle_wait(self, stopping: asyncio.Event, backoff: float) -> None:
        delay = self._idle * backoff
        waiters = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._wake.clear()

    async def run_once(self) -> int:
        """Claims one chunk, analyses it and stores the results; returns how many items."""
        items = await self._claim()
        if items:
            await self._store(await self._analyze(items))
        return len(items)

    async def _claim(self) -> list[ClaimedItem]:
        now = self._clock()
        async with self._uow() as uow:
            items = await uow.batches.claim(self.owner, self._chunk_size, now, now + self._lease)
            await uow.commit()
        return items

    async def _store(self, results: list[Analysis]) -> None:
        stored = await self._complete(results)
        self._metrics.analyses_stored(results)
        log.debug("batch chunk done", owner=self.owner, claimed=len(results), stored=stored)

    async def _write(self, results: list[Analysis]) -> int:
        """Stores results in one unit of work and logs each batch they finish. The batches
        are locked first, so that of two workers finishing a batch's last items at once,
        exactly one sees it finish."""
        keys = sorted({(r.tenant, r.batch_id) for r in results if r.batch_id is not None})
        async with self._uow() as uow:
            before = [await uow.batches.get(*key, for_update=True) for key in keys]
            stored = await uow.batches.complete(self.owner, results, self._clock())
            after = [await uow.batches.get(*key) for key in keys]
            await uow.commit()
        for old, new in zip(before, after, strict=True):
            if old is not None and new is not None and new.status.finished > old.status.finished:
                log.info(
                    f"batch {new.status.name.lower()}",
                    batch_id=new.id,
                    tenant=new.tenant,
                    total=new.total_count,
                    completed=new.completed_count,
                    failed=new.failed_count,
                )
        return stored

    async def _complete(self, results: list[Analysis]) -> int:
        """Stores a chunk's results; if the database refuses the chunk, stores them one
        by one: one bad row must not hold back the others. A row refused alone keeps its
        chunk open, and returns after the lease."""
        try:
            return await self._write(results)
        except Unavailable:
            raise
        except Exception:
            if len(results) == 1:
                raise
            log.exception("batch chunk refused by the database: storing its items one by one")
        stored = 0
        for result in results:
            try:
                stored += await self._write([result])
            except Unavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - that item alone waits for its lease
                log.warning("batch item not stored", error=type(exc).__name__)
        return stored

    async def _analyze(self, items: list[ClaimedItem]) -> list[Analysis]:
        # A chunk may mix batches of several tenants: each run belongs to one tenant.
        analyses: list[Analysis] = []
        for tenant, run in itertools.groupby(items, key=lambda item: item.tenant):
            jobs = [
                Job(
                    item.text,
                    item.analysis_type,
                    batch_id=item.batch_id,
                    batch_item=item.item,
                    language=self._language(item),
                )
                for item in run
            ]
            analyses += await self._analyst.run(tenant, jobs)
        return analyses

    def _language(self, item: ClaimedItem) -> Language:
        """The batch's stated language, else the text's, detected again as when the batch
        was accepted (detection is deterministic)."""
        if item.language_code:
            return Language(item.language_code, 1.0, stated=True)
        return self._languages.detect(item.text)

    async def release(self) -> int:
        """Returns this worker's unfinished claims to the pool for other workers."""
        async with self._uow() as uow:
            released = await uow.batches.release(self.owner)
            await uow.commit()
        if released:
            log.info("released batch items", count=released, owner=self.owner)
        return released
