"""Shared statements on real PostgreSQL and SQLite: a row the database refuses fails its
own caller (or batch item) only, never the others, of any tenant, that shared its
statement: group commit and batch workers' chunks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.databases import database_url
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.adapters.db import migrate
from server.adapters.db.engine import create_engine
from server.adapters.db.uow import SqlUnitOfWork
from server.adapters.db.writer import GroupCommitWriter
from server.domain.analyzers import default_analyzers
from server.domain.model import Analysis, AnalysisType, BatchStatus
from server.service.analyst import Analyst, analyze
from server.service.batches import BatchUseCases
from server.service.paging import Pager, PageTokens
from server.service.worker import BatchWorker

# A database that refuses some rows: PostgreSQL through a trigger raising an error (whose
# message quotes the text, as real errors may), SQLite through RAISE(ABORT).
_POISON = {
    "postgresql": [
        """CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
           BEGIN
             IF NEW.text LIKE '%poison%' THEN
               RAISE EXCEPTION 'refused row with text %', NEW.text;
             END IF;
             RETURN NEW;
           END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER refuse_poison BEFORE INSERT ON analyses
           FOR EACH ROW EXECUTE FUNCTION refuse_poison()""",
    ],
    "sqlite": [
        """CREATE TRIGGER refuse_poison BEFORE INSERT ON analyses
           WHEN NEW.text LIKE '%poison%'
           BEGIN SELECT RAISE(ABORT, 'refused row'); END""",
    ],
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    async with database_url(request.param, tmp_path_factory.mktemp("group")) as url:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        async with engine.begin() as connection:
            for statement in _POISON[request.param]:
                await connection.execute(text(statement))
        yield engine
        await engine.dispose()


def _analysis(tenant: str, body: str) -> Analysis:
    analyzer = default_analyzers()[AnalysisType.SENTIMENT]
    return analyze(analyzer, tenant=tenant, text=body)


async def _stored(engine: AsyncEngine, ids: list[str]) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT id FROM analyses"))
        # SQLite keeps UUIDs as bare hex: compare them as UUIDs.
        return {str(uuid.UUID(str(row[0]))) for row in rows} & set(ids)


async def test_a_refused_row_fails_only_its_own_caller(engine: AsyncEngine) -> None:
    writer = GroupCommitWriter(engine)
    rows = [_analysis(f"victim-{i % 4}", f"Victim row {i}.") for i in range(40)]
    poisoned = _analysis("attacker", "This row is poison.")
    rows.insert(17, poisoned)
    outcomes = await asyncio.gather(*(writer.store(row) for row in rows), return_exceptions=True)
    await writer.close()
    failed = [row.id for row, outcome in zip(rows, outcomes, strict=True) if outcome is not None]
    assert failed == [poisoned.id]
    stored = await _stored(engine, [row.id for row in rows])
    assert stored == {row.id for row in rows} - {poisoned.id}


async def test_a_nul_that_slipped_past_validation_fails_only_its_own_row(
    tmp_path: Path,
) -> None:
    # Only PostgreSQL refuses U+0000 (SQLite stores it).
    async with database_url("postgresql", tmp_path) as url:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        try:
            writer = GroupCommitWriter(engine)
            rows = [_analysis("victim", f"Another victim row {i}.") for i in range(20)]
            bad = _analysis("attacker", "nul\x00here")
            rows.insert(3, bad)
            outcomes = await asyncio.gather(
                *(writer.store(row) for row in rows), return_exceptions=True
            )
            await writer.close()
            failed = [row.id for row, o in zip(rows, outcomes, strict=True) if o is not None]
            assert failed == [bad.id]
            stored = await _stored(engine, [row.id for row in rows])
            assert stored == {r.id for r in rows} - {bad.id}
        finally:
            await engine.dispose()


async def test_a_refused_batch_item_does_not_hold_back_other_tenants_items(
    engine: AsyncEngine,
) -> None:
    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    batches = BatchUseCases(uow, Pager(PageTokens(b"k")), max_text_chars=100, max_batch_texts=10)
    # Created first, so the attacker's chunk is claimed first.
    poisoned = await batches.create("attacker", ["Fine.", "A poison item."], AnalysisType.SENTIMENT)
    victim = await batches.create(
        "victim", [f"Victim item {i}." for i in range(5)], AnalysisType.SENTIMENT
    )
    worker = BatchWorker(uow, Analyst(default_analyzers()), chunk_size=16, lease_seconds=60)
    assert await worker.run_once() == 2
    assert await worker.run_once() == 5
    done = await batches.get("victim", victim.id)
    assert (done.status, done.completed_count) == (BatchStatus.COMPLETED, 5)
    stuck = await batches.get("attacker", poisoned.id)
    assert (stuck.status, stuck.completed_count) == (BatchStatus.RUNNING, 1)


async def test_a_long_texts_slow_write_does_not_hold_up_short_ones(tmp_path: Path) -> None:
    # PostgreSQL writes in parallel (SQLite has one writer). A trigger makes long rows'
    # inserts take seconds; the short rows, queued after them, are committed meanwhile.
    async with database_url("postgresql", tmp_path) as url:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    """CREATE FUNCTION slow_long() RETURNS trigger AS $$
                       BEGIN
                         IF length(NEW.text) >= 5000 THEN PERFORM pg_sleep(3); END IF;
                         RETURN NEW;
                       END $$ LANGUAGE plpgsql"""
                )
            )
            await connection.execute(
                text(
                    """CREATE TRIGGER slow_long BEFORE INSERT ON analyses
                       FOR EACH ROW EXECUTE FUNCTION slow_long()"""
                )
            )
        try:
            writer = GroupCommitWriter(engine)
            heavy = [_analysis("heavy", f"A long review {i} that goes on. " * 200) for i in (1, 2)]
            slow = []
            for row in heavy:  # one flush each, as many as the writer runs at once
                slow.append(asyncio.create_task(writer.store(row)))
                await asyncio.sleep(0.2)  # its insert is under way
            short = [_analysis(f"light-{i % 3}", f"Short row {i}.") for i in range(30)]
            await asyncio.gather(*(writer.store(row) for row in short))
            assert not any(task.done() for task in slow)
            await asyncio.gather(*slow)
            await writer.close()
            assert await _stored(engine, [row.id for row in short]) == {r.id for r in short}
        finally:
            await engine.dispose()
