"""Schema management: Alembic migrations mirror the models; a stale PostgreSQL is refused."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from helpers.auth import TEST_SECRET, server_settings
from helpers.databases import database_url, temporary_database
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.adapters.db import SchemaOutOfDate, migrate
from server.adapters.db.engine import create_engine
from server.adapters.db.tables import Base
from server.app import Application


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_migrations_build_exactly_the_schema_the_models_describe(
    kind: str, tmp_path: Path
) -> None:
    async with database_url(kind, tmp_path) as url:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
            await migrate.upgrade(engine)  # a second run changes nothing
            async with engine.connect() as connection:
                diff = await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}),
                        Base.metadata,
                    )
                )
            assert diff == []
            assert await migrate.is_current(engine)
        finally:
            await engine.dispose()


def run_cli(
    *args: str, url: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env={
            **os.environ,
            "TEXTLENS_DATABASE_URL": url,
            "TEXTLENS_JWT_SECRET": TEST_SECRET,
            "TEXTLENS_LOG_FORMAT": "json",
            **(env or {}),
        },
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_serve_refuses_an_unmigrated_postgresql_until_it_is_migrated(tmp_path: Path) -> None:
    async with temporary_database() as url:
        app = Application(server_settings(database_url=url))
        with pytest.raises(SchemaOutOfDate, match="textlens-server migrate"):
            await app.start()

        result = await asyncio.to_thread(run_cli, "migrate", url=url, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"revision {migrate.head_revision()}" in result.stdout

        app = Application(server_settings(database_url=url))
        await app.start()
        await app.stop(0)


async def test_serve_with_migrate_applies_pending_migrations(tmp_path: Path) -> None:
    async with temporary_database() as url:
        app = Application(server_settings(database_url=url), migrate_schema=True)
        await app.start()
        await app.stop(0)
        engine = create_engine(url)
        assert await migrate.is_current(engine)
        await engine.dispose()


async def test_an_unreachable_database_fails_fast_with_one_clear_line(tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        run_cli, "migrate", url="postgresql://postgres@127.0.0.1:1/textlens", cwd=tmp_path
    )
    assert result.returncode == 2
    last = json.loads(result.stderr.strip().splitlines()[-1])  # the log is JSON: so is this
    assert last["event"] == "textlens-server: the database is unavailable; retry later"
    assert last["level"] == "error"
    assert "Traceback" not in result.stderr


async def test_several_processes_refuse_an_unmigrated_postgresql_before_starting_any(
    tmp_path: Path,
) -> None:
    async with temporary_database() as url:
        env = {"TEXTLENS_WORKERS": "2", "TEXTLENS_PORT": "0"}
        refused = await asyncio.to_thread(run_cli, "serve", url=url, cwd=tmp_path, env=env)
        assert refused.returncode == 2, refused.stderr
        assert "run `textlens-server migrate`" in refused.stderr

        applied = await asyncio.to_thread(
            run_cli, "migrate", url=url, cwd=tmp_path, env={"TEXTLENS_WORKERS": "2"}
        )
        assert applied.returncode == 0, applied.stderr


async def test_results_stored_as_jsonb_read_back_the_same_after_0006_and_its_downgrade() -> None:
    result = {"label": "positive", "score": 0.75, "sentences": [{"offset": 0, "text": "é"}]}

    async def column_type(engine: AsyncEngine) -> str:
        async with engine.connect() as connection:
            return str(
                await connection.scalar(
                    text(
                        "SELECT data_type FROM information_schema.columns "
                        "WHERE table_name = 'analyses' AND column_name = 'result'"
                    )
                )
            )

    async def stored(engine: AsyncEngine) -> object:
        async with engine.connect() as connection:
            return await connection.scalar(text("SELECT result::text FROM analyses"))

    async with temporary_database() as url:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(
                    lambda sync: command.upgrade(migrate._config(sync), "0005")
                )
                await connection.execute(
                    text(
                        "INSERT INTO analyses (id, tenant, text, analysis_type, status, "
                        "result, error_message, processing_time_ms, create_time, update_time) "
                        "VALUES (gen_random_uuid(), 't', 'x', 1, 3, CAST(:r AS jsonb), '', 1, "
                        "now(), now())"
                    ),
                    {"r": json.dumps(result)},
                )
            assert await column_type(engine) == "jsonb"
            await migrate.upgrade(engine)
            assert await column_type(engine) == "json"
            assert json.loads(await stored(engine)) == result
            async with engine.begin() as connection:
                await connection.run_sync(
                    lambda sync: command.downgrade(migrate._config(sync), "0005")
                )
            assert await column_type(engine) == "jsonb"
            assert json.loads(await stored(engine)) == result
        finally:
            await engine.dispose()
