"""The textlens command line as a user runs it: a real process against a real server."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.auth import make_token
from helpers.servers import running_server

MAX_CHARS = 200


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)

    def json_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.out.splitlines()]


@pytest.fixture(scope="module")
async def target(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    # A grace period: a batch worker finishes its chunk rather than being cut off.
    async with running_server(
        tmp_path_factory.mktemp("cli"),
        stop_grace=5,
        max_text_chars=MAX_CHARS,
        batch_poll_seconds=0.1,
    ) as app:
        yield f"127.0.0.1:{app.port}"


async def textlens(*args: str, target: str | None = None, stdin: str = "") -> Run:
    return await _finish(await _start(*args, target=target), stdin)


async def _start(*args: str, target: str | None) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTLENS_")}
    env["TEXTLENS_TOKEN"] = make_token()
    if target is not None:
        env["TEXTLENS_TARGET"] = target
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "textlens",
        *args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


async def _finish(process: asyncio.subprocess.Process, stdin: str) -> Run:
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def _reading_stdin(process: asyncio.subprocess.Process) -> None:
    """Waits until the process sits in read(0, ...): started, and waiting for its input."""
    syscall = Path(f"/proc/{process.pid}/syscall")
    for _ in range(600):
        if (await asyncio.to_thread(syscall.read_text)).startswith("0 0x0 "):  # read(0, …)
            return
        await asyncio.sleep(0.05)
    pytest.fail("the command line never read its stdin")


async def test_analyze_get_list_and_delete(target: str) -> None:
    created = await textlens(
        "analyze", "A quiet, pleasant walk.", "--type", "quality", target=target
    )
    assert created.code == 0, created.err
    analysis = created.json()
    assert isinstance(analysis, dict)
    assert analysis["analysisType"] == "ANALYSIS_TYPE_QUALITY"
    assert analysis["quality"]["wordCount"] == 4

    fetched = await textlens("get", analysis["id"], target=target)
    assert (fetched.code, fetched.json()) == (0, analysis)

    listed = await textlens("list", "--type", "quality", "--limit", "1", target=target)
    assert listed.code == 0
    assert [a["id"] for a in listed.json_lines()] == [analysis["id"]]

    deleted = await textlens("delete", analysis["id"], target=target)
    assert deleted.code == 0
    gone = await textlens("get", analysis["id"], target=target)
    assert gone.code == 4
    assert gone.out == ""
    [line] = gone.err.splitlines()
    assert line.startswith("textlens: error: NOT_FOUND: ")
    assert "reason ANALYSIS_NOT_FOUND" in line
    assert "request id " in line


async def test_the_target_flag_overrides_the_environment(target: str) -> None:
    run = await textlens("--target", target, "health", target="127.0.0.1:1")
    assert (run.code, run.out) == (0, "SERVING\n")


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        (("analyze", "   "), 3, "TEXT_EMPTY"),
        (("analyze", "x" * (MAX_CHARS + 1)), 3, "TEXT_TOO_LONG"),
        (("list", "--order-by", "sideways"), 3, "ORDER_BY_INVALID"),
        (("get", "no-such-id"), 4, "ANALYSIS_NOT_FOUND"),
        (("batch", "get", "no-such-batch"), 4, "BATCH_NOT_FOUND"),
    ],
)
async def test_each_failure_is_one_line_and_its_own_exit_code(
    target: str, args: tuple[str, ...], code: int, reason: str
) -> None:
    run = await textlens(*args, target=target)
    assert run.code == code
    assert run.err.count("\n") == 1
    assert f"reason {reason}" in run.err


async def test_a_reused_request_id_is_a_conflict(target: str) -> None:
    first = await textlens("analyze", "First.", "--request-id", "cli-k", target=target)
    assert first.code == 0
    second = await textlens("analyze", "Second.", "--request-id", "cli-k", target=target)
    assert second.code == 5
    assert "ALREADY_EXISTS" in second.err


async def test_an_unreachable_server_fails_at_once_with_a_clear_message(tmp_path: Path) -> None:
    run = await textlens("--target", "localhost:1", "health")
    assert run.code == 9
    assert run.err == (
        "textlens: error: cannot reach TextLens at localhost:1 (connection refused). "
        "Is the server running?\n"
    )


async def test_health_of_an_unknown_service_is_not_found(target: str) -> None:
    run = await textlens("health", "--service", "no.such.Service", target=target)
    assert run.code == 4


async def test_stream_prints_a_json_line_per_text_keyed_by_line_number(
    target: str, tmp_path: Path
) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("".join(f"Line {i} is lovely.\n" for i in range(1, 1001)) + "\n")
    run = await textlens("stream", str(source), "--type", "sentiment", target=target)
    assert run.code == 0, run.err
    results = run.json_lines()
    assert [r["ref"] for r in results] == [str(i) for i in range(1, 1001)]
    assert all("analysis" in r for r in results)
    assert run.err == "", "no progress bar when stderr is not a terminal"


async def test_stream_from_stdin_reports_rejected_texts_and_exits_1(target: str) -> None:
    run = await textlens(
        "stream", "-", "--type", "emotion", target=target, stdin=f"Joy!\n{'x' * 300}\nFear.\n"
    )
    assert run.code == 1
    results = run.json_lines()
    assert [("analysis" in r, r.get("error", {}).get("reason")) for r in results] == [  # type: ignore[union-attr]
        (True, None),
        (False, "TEXT_TOO_LONG"),
        (True, None),
    ]
    assert run.err == "textlens: 1 of 3 texts rejected: 1 TEXT_TOO_LONG\n"


async def test_batch_create_watch_then_get_list_and_cancel(target: str, tmp_path: Path) -> None:
    source = tmp_path / "batch.txt"
    source.write_text("Good.\nBad.\n\nUgly.\n")
    run = await textlens("batch", "create", str(source), "--watch", target=target)
    assert run.code == 0, run.err
    snapshots = run.json_lines()
    assert snapshots[0]["status"] == "BATCH_STATUS_PENDING"
    assert snapshots[-1]["status"] == "BATCH_STATUS_COMPLETED"
    assert snapshots[-1]["totalCount"] == 3
    batch_id = str(snapshots[0]["id"])

    got = await textlens("batch", "get", batch_id, target=target)
    assert got.code == 0
    listed = await textlens("batch", "list", "--status", "completed", target=target)
    assert batch_id in {b["id"] for b in listed.json_lines()}
    results = await textlens("list", "--batch", batch_id, target=target)
    assert [(r["batchItem"], r["text"]) for r in results.json_lines()] == [
        (0, "Good."),
        (1, "Bad."),
        (2, "Ugly."),
    ]
    jsonl = await textlens("batch", "results", batch_id, target=target)
    assert [(r["index"], r["analysis"]["text"]) for r in jsonl.json_lines()] == [
        (0, "Good."),
        (1, "Bad."),
        (2, "Ugly."),
    ]
    table = await textlens("batch", "results", batch_id, "--output", "csv", target=target)
    header, *rows = table.out.splitlines()
    assert header == "index,id,status,label,score,magnitude,error,text"
    assert [row.split(",")[0] for row in rows] == ["0", "1", "2"]
    assert [row.split(",")[3] for row in rows] == ["POSITIVE", "NEGATIVE", "NEGATIVE"]
    cancel = await textlens("batch", "cancel", batch_id, target=target)
    assert cancel.code == 5
    assert "BATCH_FINISHED" in cancel.err


async def test_a_missing_input_file_is_a_usage_error_with_its_cause(
    target: str, tmp_path: Path
) -> None:
    missing = tmp_path / "absent.txt"
    run = await textlens("stream", str(missing), target=target)
    assert run.code == 2
    assert run.err == f"textlens: error: cannot read {missing}: No such file or directory\n"


async def test_analyze_dash_analyses_stdin_and_batch_create_dash_reads_lines(target: str) -> None:
    run = await textlens("analyze", "-", target=target, stdin="A calm, happy morning.\n")
    assert run.code == 0, run.err
    assert run.json()["text"] == "A calm, happy morning."  # type: ignore[index]
    run = await textlens("batch", "create", "-", "--watch", target=target, stdin="One.\nTwo.\n")
    assert run.code == 0, run.err
    assert run.json_lines()[-1]["totalCount"] == 2


async def test_over_the_rate_limit_it_says_it_waits_and_no_retry_fails_at_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with running_server(
        tmp_path_factory.mktemp("cli-limits"), rate_limit="5 per 5 seconds", batch_workers=0
    ) as app:
        limited = f"127.0.0.1:{app.port}"
        six, five = "".join(f"{i}\n" for i in range(6)), "".join(f"{i}\n" for i in range(5))
        refused = await textlens("batch", "create", "-", target=limited, stdin=six)
        assert refused.code == 8
        assert "exceed the whole rate limit of 5 texts per 5 seconds (TEXTLENS_RATE_LIMIT)" in (
            refused.err
        )
        assert "send at most 5 per request" in refused.err
        # The next call must arrive while the budget is still spent, however long a
        # command takes to start on a loaded machine: it starts first and waits on stdin.
        waiting = await _start("analyze", "-", target=limited)
        await _reading_stdin(waiting)
        spent = await textlens("batch", "create", "-", target=limited, stdin=five)
        assert spent.code == 0, spent.err
        waited = await _finish(waiting, "One more.")
        assert waited.code == 0, waited.err
        [notice] = waited.err.splitlines()
        assert notice.startswith("textlens: rate limited, retrying in "), notice
        at_once = await textlens("--no-retry", "batch", "create", "-", target=limited, stdin=five)
        assert at_once.code == 8
        assert "rate limit of 5 texts per 5 seconds (TEXTLENS_RATE_LIMIT) reached; retry in" in (
            at_once.err
        )
        assert "retrying" not in at_once.err


async def test_list_prints_a_table_on_a_terminal(target: str) -> None:
    await textlens("analyze", "Table row text.", "--type", "quality", target=target)
    env = {**os.environ, "TEXTLENS_TARGET": target, "TEXTLENS_TOKEN": make_token()}
    _, screen = await asyncio.to_thread(
        _run_with_terminal, ["list", "--type", "quality", "--limit", "1"], env, True
    )
    lines = [line for line in screen.splitlines() if line.strip()]
    assert lines[0].split() == ["ID", "TYPE", "STATUS", "RESULT", "CREATED", "TEXT"]
    assert "quality" in lines[1]
    assert lines[1].endswith("Table row text.")
    _, screen = await asyncio.to_thread(_run_with_terminal, ["batch", "list"], env, True)
    assert screen.split()[:6] == ["ID", "TYPE", "STATUS", "DONE", "FAILED", "CREATED"]


def _run_with_terminal(args: list[str], env: dict[str, str], stdout_tty: bool) -> tuple[str, str]:
    """Runs the command line with stderr (and optionally stdout) on a pseudo-terminal."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "textlens", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=slave,
        env={**env, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain_terminal() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the child has closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain_terminal)
    reader.start()
    out, _ = process.communicate(timeout=60)
    reader.join(10)
    os.close(master)
    out = out.decode() if out else ""
    return out, b"".join(chunks).decode(errors="replace")


async def test_on_a_terminal_stream_shows_a_progress_bar_and_a_table(
    target: str, tmp_path: Path
) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("".join(f"Row {i} is fine.\n" for i in range(300)))
    env = {**os.environ, "TEXTLENS_TARGET": target, "TEXTLENS_TOKEN": make_token()}

    piped_out, terminal = await asyncio.to_thread(
        _run_with_terminal, ["stream", str(source)], env, False
    )
    assert len(piped_out.splitlines()) == 300, "results still go to stdout as JSON lines"
    assert "analysing" in terminal, "the progress bar goes to the terminal on stderr"

    _, screen = await asyncio.to_thread(_run_with_terminal, ["stream", str(source)], env, True)
    assert "REF" in screen
    assert "RESULT" in screen
    assert "Row 299 is fine." in screen
