"""The SQLAlchemy analysis repository on real PostgreSQL and SQLite: one module, both databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from helpers.databases import database_url
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from server.adapters.db import migrate
from server.adapters.db.analyses import SqlAnalysisRepository
from server.adapters.db.engine import create_engine
from server.adapters.db.uow import SqlUnitOfWork
from server.domain.analyzers import default_analyzers
from server.domain.model import Analysis, AnalysisStatus, AnalysisType, new_id
from server.service.analyst import analyze
from server.service.paging import Cursor, Order, PageRequest
from server.service.ports import AnalysisFilter, DuplicateRequestId

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    async with database_url(request.param, tmp_path_factory.mktemp("repo")) as url:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        yield engine
        await engine.dispose()


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own, so tests sharing a database never see each other's rows."""
    return f"tenant-{uuid.uuid4().hex[:8]}"


def make(tenant: str, i: int = 0, **changes: object) -> Analysis:
    analysis = Analysis(
        id=new_id(),
        tenant=tenant,
        text=f"text {i}",
        analysis_type=AnalysisType.QUALITY,
        status=AnalysisStatus.COMPLETED,
        create_time=BASE_TIME + timedelta(seconds=i),
        update_time=BASE_TIME + timedelta(seconds=i),
    )
    for key, value in changes.items():
        setattr(analysis, key, value)
    return analysis


async def test_an_analysis_reads_back_equal_with_its_result_and_utc_times(
    engine: AsyncEngine, tenant: str
) -> None:
    analyzers = default_analyzers()
    stored = [
        analyze(analyzers[kind], tenant=tenant, text="I love it. Really, I do! 😍")
        for kind in AnalysisType
    ]
    async with SqlUnitOfWork(engine) as uow:
        for analysis in stored:
            await uow.analyses.add(analysis)
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        for analysis in stored:
            loaded = await uow.analyses.get(tenant, analysis.id)
            assert loaded == analysis
            assert loaded is not None and loaded.create_time.tzinfo is UTC


async def test_uncommitted_work_is_rolled_back(engine: AsyncEngine, tenant: str) -> None:
    analysis = make(tenant)
    async with SqlUnitOfWork(engine) as uow:
        await uow.analyses.add(analysis)
    async with SqlUnitOfWork(engine) as uow:
        assert await uow.analyses.get(tenant, analysis.id) is None


async def test_another_tenant_cannot_read_or_delete(engine: AsyncEngine, tenant: str) -> None:
    analysis = make(tenant)
    async with SqlUnitOfWork(engine) as uow:
        await uow.analyses.add(analysis)
        await uow.commit()
    async with SqlUnitOfWork(engine) as uow:
        assert await uow.analyses.get("someone-else", analysis.id) is None
        assert await uow.analyses.delete("someone-else", analysis.id) is None
        assert await uow.analyses.get(tenant, analysis.id) is not None


async def test_a_second_row_with_the_same_request_id_is_refused(
    engine: AsyncEngine, tenant: str
) -> None:
    async with SqlUnitOfWork(engine) as uow:
        await uow.analyses.add(make(tenant, request_id="k1", payload_hash="h"))
        await uow.commit()
    with pytest.raises(DuplicateRequestId):
        async with SqlUnitOfWork(engine) as uow:
            await uow.analyses.add(make(tenant, request_id="k1", payload_hash="h"))
    async with SqlUnitOfWork(engine) as uow:
        await uow.analyses.add(make("other-tenant-" + tenant, request_id="k1"))
        await uow.commit()


async def test_one_result_per_batch_item_is_enforced(engine: AsyncEngine, tenant: str) -> None:
    batch_id = new_id()
    async with SqlUnitOfWork(engine) as uow:
        await uow.analyses.add(make(tenant, batch_id=batch_id, batch_item=0))
        await uow.commit()
    with pytest.raises(Exception, match=r"(?i)unique"):
        async with SqlUnitOfWork(engine) as uow:
            await uow.analyses.add(make(tenant, batch_id=batch_id, batch_item=0))


ROWS = 100_000


async def test_walking_one_hundred_thousand_rows_never_repeats_or_skips(
    engine: AsyncEngine, tenant: str
) -> None:
    # Groups of 7 rows share a timestamp, so the id tie-break is exercised on every page.
    rows = [make(tenant, i // 7) for i in range(ROWS)]
    async with SqlUnitOfWork(engine) as uow:
        for start in range(0, ROWS, 5_000):
            await uow.analyses.add_many(rows[start : start + 5_000])
        await uow.commit()
    # The API's largest page (100) in one direction; bigger pages the other way, to save time.
    for order, size in ((Order("create_time", True), 100), (Order("update_time", False), 1_000)):
        seen: list[str] = []
        after = None
        async with SqlUnitOfWork(engine) as uow:
            while True:
                page = PageRequest(limit=size, order=order, after=after, scope="")
                found = await uow.analyses.list_page(tenant, AnalysisFilter(), page)
                seen += [a.id for a in found[:size]]
                if len(found) <= size:
                    break
                last = found[size - 1]
                after = Cursor(getattr(last, order.field), last.id)
            assert await uow.analyses.count(tenant, AnalysisFilter(), at_most=ROWS + 1) == ROWS
            assert await uow.analyses.count(tenant, AnalysisFilter(), at_most=1_000) == 1_000
        assert len(seen) == ROWS
        assert len(set(seen)) == ROWS
        expected = sorted(
            rows, key=lambda a: (getattr(a, order.field), uuid.UUID(a.id)), reverse=order.descending
        )
        assert seen == [a.id for a in expected]


async def test_keyset_pages_seek_in_the_index_without_sorting(
    engine: AsyncEngine, tenant: str
) -> None:
    captured: list[tuple[str, object]] = []

    def capture(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        captured.append((statement, parameters))

    rows = [make(tenant, i) for i in range(5_000)]
    async with SqlUnitOfWork(engine) as uow:
        await uow.analyses.add_many(rows)
        await uow.commit()
    middle = rows[2_500]
    page = PageRequest(
        limit=100,
        order=Order("create_time", True),
        after=Cursor(middle.create_time, middle.id),
        scope="",
    )
    async with engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE")
        event.listen(connection.sync_connection, "before_cursor_execute", capture)
        await SqlAnalysisRepository(connection).list_page(tenant, AnalysisFilter(), page)
        event.remove(connection.sync_connection, "before_cursor_execute", capture)
        statement, parameters = captured[-1]
        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        result = await connection.exec_driver_sql(prefix + statement, parameters)  # type: ignore[arg-type]
        plan = "\n".join(str(row) for row in result.all())
    assert "ix_analyses_tenant_create_time_id" in plan, plan
    # The cursor bounds the index range (a seek), and rows come in index order (no sort).
    if engine.dialect.name == "sqlite":
        assert "(create_time,id)<(?,?)" in plan.replace(" ", ""), plan
        assert "TEMP B-TREE" not in plan, plan
    else:
        assert "Index Cond" in plan and "ROW(create_time, id) <" in plan, plan
        assert "Sort" not in plan, plan


async def test_a_batchs_results_page_in_input_order_by_seeking_the_batch_item_index(
    engine: AsyncEngine, tenant: str
) -> None:
    batch_id = new_id()
    # Stored out of order, with times running against the input order.
    items = [(i * 37) % 500 for i in range(500)]
    rows = [make(tenant, 500 - item, batch_id=batch_id, batch_item=item) for item in items]
    async with SqlUnitOfWork(engine) as uow:
        await uow.analyses.add_many(rows)
        await uow.commit()
    where = AnalysisFilter(batch_id=batch_id)
    order = Order("batch_item", descending=False)
    seen: list[int | None] = []
    after = None
    async with SqlUnitOfWork(engine) as uow:
        while True:
            page = PageRequest(limit=64, order=order, after=after, scope="")
            found = await uow.analyses.list_page(tenant, where, page)
            seen += [a.batch_item for a in found[:64]]
            if len(found) <= 64:
                break
            last = found[63]
            assert last.batch_item is not None
            after = Cursor(last.batch_item, last.id)
    assert seen == list(range(500))

    captured: list[tuple[str, object]] = []

    def capture(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        captured.append((statement, parameters))

    page = PageRequest(limit=10, order=order, after=Cursor(250, rows[0].id), scope="")
    async with engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE")
        event.listen(connection.sync_connection, "before_cursor_execute", capture)
        await SqlAnalysisRepository(connection).list_page(tenant, where, page)
        event.remove(connection.sync_connection, "before_cursor_execute", capture)
        statement, parameters = captured[-1]
        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        result = await connection.exec_driver_sql(prefix + statement, parameters)  # type: ignore[arg-type]
        plan = "\n".join(str(row) for row in result.all())
    # The unique (batch_id, batch_item) index bounds the range and gives the order.
    if engine.dialect.name == "sqlite":
        assert "(batch_id=? AND batch_item>?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    else:
        assert "uq_analyses_batch_id_batch_item" in plan and "Index Cond" in plan, plan
        assert "Sort" not in plan, plan
