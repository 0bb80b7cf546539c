"""The README's shell blocks work as pasted, in order, against a `serve --dev` server, as
does the command its banner prints."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def code_blocks() -> list[tuple[str, str]]:
    """Every fenced block of the README, as (language, body)."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", README.read_text(), flags=re.DOTALL | re.MULTILINE)


def shell_blocks() -> list[str]:
    """Every shell block but the first, which sets up and runs the suite (make run, make
    test): the rest talk to the server make run started."""
    blocks = [body for language, body in code_blocks() if language == "sh"]
    assert blocks[0].startswith("make run "), "the README's first shell block is make run"
    return blocks[1:]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """A directory like a checkout after `make run`: its .venv, and the dev server's key."""
    home = tmp_path_factory.mktemp("checkout")
    (home / ".venv").symlink_to(ROOT / ".venv")
    process = ServerProcess(
        {"TEXTLENS_LOG_FORMAT": "console", "TEXTLENS_BATCH_POLL_SECONDS": "0.1"},
        cwd=home,
        args=("serve", "--dev"),
    )
    del process.env["TEXTLENS_JWT_SECRET"]  # make run configures no key
    with process:
        yield process, home


def run(script: str, cwd: Path, port: int) -> subprocess.CompletedProcess[str]:
    # A clean shell; the CLI's default target, 127.0.0.1:50051, is where this server is.
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
        "LANG": "C.UTF-8",
        "TEXTLENS_TARGET": f"127.0.0.1:{port}",
    }
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-x", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_block_in_the_readme_is_one_these_tests_run() -> None:
    # Shell blocks run here, Python blocks in test_readme_python.py; a block in any other
    # language (bash, console, none) would be run by nothing.
    assert {language for language, _ in code_blocks()} == {"sh", "python"}


def test_the_readme_has_its_shell_blocks() -> None:
    blocks = shell_blocks()
    assert len(blocks) == 1
    assert all("50051" in block for block in blocks)


async def test_every_shell_block_works_as_pasted_in_order(
    project: tuple[ServerProcess, Path],
) -> None:
    server, home = project
    script = "\n".join(shell_blocks()).replace(":50051", f":{server.port}")
    done = await asyncio.to_thread(run, script, home, server.port)
    assert done.returncode == 0, done.stderr[-4000:]
    out = done.stdout
    assert '"label": "SENTIMENT_LABEL_POSITIVE"' in out
    assert "textlens.v1.AnalysisService" in out  # grpcurl list
    assert '"status": "SERVING"' in out
    assert out.count('"status": "BATCH_STATUS_CANCELLED"') == 2  # textlens, then grpcurl
    results = [line for line in out.splitlines() if line.startswith(("0,", "1,", "2,"))]
    assert [line.split(",")[0] for line in results] == ["0", "1", "2"]  # batch results --output csv
    streamed = [json.loads(line) for line in out.splitlines() if line.startswith('{"ref"')]
    assert [row["ref"] for row in streamed][:3] == ["1", "2", "3"]  # the stream's JSON lines
    # Nothing the blocks ran complained on stderr (beside bash's trace, notes only).
    complaints = [
        line for line in done.stderr.splitlines() if not line.startswith("+") and "rror" in line
    ]
    assert complaints == []


async def test_the_banner_command_works_as_printed(project: tuple[ServerProcess, Path]) -> None:
    server, home = project
    for _ in range(100):
        banner = server.stdout_lines
        start = next((i for i, line in enumerate(banner) if "A token with every scope" in line), -1)
        if start >= 0 and len(banner) >= start + 3:
            break
        await asyncio.sleep(0.1)
    commands = [line.strip() for line in banner[start + 1 : start + 3]]
    assert commands[0].startswith("export TEXTLENS_TOKEN=")
    done = await asyncio.to_thread(run, "\n".join(commands), home, server.port)
    assert done.returncode == 0, done.stderr
    assert "textlens.v1.AnalysisService" in done.stdout.splitlines()
