"""Group commit for single analyses: concurrent creates share one transaction.

A create waits for its row to be durable before it is answered, but it does not need a
transaction of its own. While one flush is in progress, new rows queue up; the next flush
takes all of them in one multi-row insert. At low load a row is flushed at once (no
timer, no added latency); under load, rows per transaction grow with the load.

Rows of many callers, of any tenant, share a statement, so one row that the database
refuses must not fail the others: a group that fails for any reason but an unavailable
database is written again row by row, and only the row that fails again fails its caller.

Rows of long texts (a result of hundreds of sentences each, milliseconds to encode and to
write) are grouped apart from the others, in flushes of their own: a tenant sending long
texts never holds up the commit of another's short ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from server.adapters.db.bulk import insert_analyses
from server.adapters.db.errors import translate
from server.domain.errors import Unavailable
from server.domain.model import Analysis
from server.service.concurrency import OFF_LOOP_CHARS
from server.service.ports import DuplicateRequestId

log = structlog.get_logger("textlens.db")

MAX_ROWS_PER_FLUSH = 500
MAX_CONCURRENT_FLUSHES = 2
# A row whose text is this long or longer goes in the long rows' groups.
LONG_ROW_CHARS = OFF_LOOP_CHARS

Group = list[tuple[Analysis, asyncio.Future[None]]]


@dataclass(slots=True)
class _Lane:
    """Rows waiting for a flush, and the flushes writing them."""

    queue: Group = field(default_factory=list)
    flushers: set[asyncio.Task[None]] = field(default_factory=set)


class GroupCommitWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_rows: int = MAX_ROWS_PER_FLUSH,
        max_flushes: int = MAX_CONCURRENT_FLUSHES,
    ) -> None:
        # On PostgreSQL a group is one INSERT statement, atomic on its own: run it in
        # autocommit and save the BEGIN and COMMIT round trips. SQLite keeps its
        # transaction (it takes the write lock when the transaction begins).
        self._engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._max_rows = max_rows
        self._max_flushes = max_flushes
        self._short, self._long = _Lane(), _Lane()

    async def store(self, analysis: Analysis) -> None:
        """Returns once the analysis is committed; DuplicateRequestId if its key is taken."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane = self._long if len(analysis.text) >= LONG_ROW_CHARS else self._short
        lane.queue.append((analysis, done))
        if len(lane.flushers) < self._max_flushes:
            flusher = asyncio.create_task(self._drain(lane), name="textlens-group-commit")
            lane.flushers.add(flusher)
            flusher.add_done_callback(lane.flushers.discard)
        await done

    async def _drain(self, lane: _Lane) -> None:
        # Runs until the queue is empty; rows queued meanwhile ride along in the next group.
        # The group belongs to no single caller: what it logs is not filed under the one
        # that started it (its statements still trace as that caller's children).
        structlog.contextvars.clear_contextvars()
        while lane.queue:
            group, lane.queue = lane.queue[: self._max_rows], lane.queue[self._max_rows :]
            await self._write(group)

    async def _write(self, group: Group) -> None:
        try:
            async with self._engine.begin() as connection:
                # A row whose (tenant, request_id) is taken is skipped, not fatal to its
                # group: only that caller learns of the duplicate.
                rows = await insert_analyses(
                    connection, [a for a, _ in group], conflict="request", returning=("id",)
                )
                inserted = {str(row.id) for row in rows}
        except Exception as exc:  # noqa: BLE001 - handed to the callers it concerns
            error = translate(exc) or exc
            if len(group) > 1 and not isinstance(error, Unavailable):
                log.warning(
                    "group insert failed: writing its rows one by one",
                    rows=len(group),
                    error=type(exc).__name__,
                )
                for item in group:
                    await self._write([item])
                return
            for _, done in group:
                if not done.done():
                    done.set_exception(error)
            return
        for analysis, done in group:
            if not done.done():
                if analysis.id in inserted:
                    done.set_result(None)
                else:
                    done.set_exception(DuplicateRequestId())

    async def close(self) -> None:
        """Waits for the flushes in progress: their callers are waiting for them."""
        while flushers := self._short.flushers | self._long.flushers:
            await asyncio.gather(*flushers, return_exceptions=True)
