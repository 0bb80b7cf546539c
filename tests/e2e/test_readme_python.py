"""The README's Python examples run as printed against a real server and print names."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.auth import make_token
from helpers.servers import running_server

README = Path(__file__).resolve().parents[2] / "README.md"


def python_examples() -> list[str]:
    """Every Python block of the README, in order."""
    return re.findall(r"^```python\n(.*?)^```$", README.read_text(), flags=re.DOTALL | re.MULTILINE)


@pytest.fixture(scope="module")
async def target(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    directory = tmp_path_factory.mktemp("readme")
    async with running_server(directory, batch_poll_seconds=0.1, stop_grace=5) as app:
        yield f"127.0.0.1:{app.port}"


def run_example(code: str, target: str, cwd: Path) -> str:
    # The examples name the server as `make run` starts it; this one listens elsewhere.
    code = code.replace('"localhost:50051"', repr(target))
    env = {**os.environ, "TEXTLENS_TOKEN": make_token()}
    done = subprocess.run(  # our own interpreter, the README's code
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_readme_has_both_examples() -> None:
    assert len(python_examples()) == 2


async def test_the_async_example_prints_labels_and_emotions_by_name(
    target: str, tmp_path: Path
) -> None:
    out = await asyncio.to_thread(run_example, python_examples()[0], target, tmp_path)
    lines = out.splitlines()
    assert lines[0].split()[0] == "POSITIVE"
    assert "0 JOY" in lines
    assert "1 rejected: TEXT_EMPTY" in lines
    assert lines[-1].startswith("NOT_FOUND: analysis 'no-such-id' not found")


async def test_the_sync_example_prints_batch_statuses_and_labels_by_name(
    target: str, tmp_path: Path
) -> None:
    out = await asyncio.to_thread(run_example, python_examples()[1], target, tmp_path)
    lines = out.splitlines()
    statuses = [line.split()[0] for line in lines[:-2]]
    assert set(statuses) <= {"PENDING", "RUNNING", "COMPLETED"}
    assert lines[-3] == "COMPLETED 2 / 2"
    assert lines[-2:] == ["0 Great service. POSITIVE", "1 Terrible service. NEGATIVE"]
