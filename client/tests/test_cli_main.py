"""The textlens command line against the scripted server: output, errors and exit codes."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from fakeserver import FakeServer, rate_limited

from textlens import _cli, _progress


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(_cli.main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_analyze_prints_the_analysis_as_json(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run(
        capsys, "--target", fake.target, "analyze", "Nice!", "--type", "quality"
    )
    assert code == 0
    analysis = json.loads(out)
    assert analysis["text"] == "Nice!"
    assert analysis["analysis_type"] == "ANALYSIS_TYPE_QUALITY"
    assert err == ""


async def test_the_target_comes_from_the_environment(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTLENS_TARGET", fake.target)
    monkeypatch.setenv("TEXTLENS_TOKEN", "env-token")
    code, _, _ = await run(capsys, "analyze", "hello")
    assert code == 0
    assert fake.script.calls[-1].metadata["authorization"] == "Bearer env-token"


async def test_an_error_is_one_line_with_a_distinct_exit_code(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run(capsys, "--target", fake.target, "get", "missing")
    assert code == 4
    assert out == ""
    assert err == (
        "textlens: error: NOT_FOUND: not found "
        "(reason ANALYSIS_NOT_FOUND, request id fake-request-1)\n"
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("analyze", "   "), 3),
        (("get", "missing"), 4),
        (("health",), 10),  # the scripted server has no health service: UNIMPLEMENTED
    ],
)
async def test_exit_codes_follow_the_class_of_failure(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], expected: int
) -> None:
    code, _, err = await run(capsys, "--target", fake.target, *argv)
    assert code == expected
    assert err.count("\n") == 1


async def test_rate_limiting_beyond_the_timeout_exits_8(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.script.fail("CreateAnalysis", rate_limited(60))
    code, _, err = await run(capsys, "--target", fake.target, "--timeout", "2", "analyze", "x")
    assert code == 8
    assert "RATE_LIMITED" in err


async def test_an_unreachable_server_exits_9(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await run(capsys, "--target", "127.0.0.1:1", "--timeout", "0.5", "get", "x")
    assert code == 9
    assert err.startswith("textlens: error: UNAVAILABLE")


async def test_a_missing_file_is_a_usage_error(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = await run(capsys, "--target", fake.target, "stream", str(tmp_path / "nope"))
    assert code == 2
    assert "cannot read" in err


async def test_stream_prints_json_lines_keyed_by_line_number_without_progress_when_piped(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("good day\n\n   \nbad day\n")
    code, out, err = await run(capsys, "--target", fake.target, "stream", str(source))
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(r["ref"], r["analysis"]["text"]) for r in lines] == [
        ("1", "good day"),
        ("4", "bad day"),
    ]
    assert err == ""


async def test_stream_reads_stdin_and_exits_1_when_a_text_is_rejected(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("fine\n!reject\nalso fine\n"))
    code, out, err = await run(capsys, "--target", fake.target, "stream", "-")
    assert code == 1
    results = [json.loads(line) for line in out.splitlines()]
    assert results[1] == {
        "ref": "2",
        "error": {"code": "INVALID_ARGUMENT", "message": "text: empty", "reason": "TEXT_EMPTY"},
    }
    assert "1 texts were rejected" in err


async def test_stream_can_print_a_table(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("good day\n")
    code, out, _ = await run(
        capsys, "--target", fake.target, "stream", "--format", "table", str(source)
    )
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["REF", "RESULT", "TEXT"]
    assert row.split() == ["1", "positive", "+0.50", "good", "day"]


async def test_list_stops_at_the_limit(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(5):
        await run(capsys, "--target", fake.target, "analyze", f"text {i}")
    code, out, _ = await run(capsys, "--target", fake.target, "list", "--limit", "3")
    assert code == 0
    assert [json.loads(line)["text"] for line in out.splitlines()] == [
        "text 0",
        "text 1",
        "text 2",
    ]
    assert fake.script.of("ListAnalyses")[-1].request.page_size == 3


async def test_batch_watch_prints_each_snapshot_when_piped(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await run(capsys, "--target", fake.target, "batch", "watch", "b1")
    assert code == 0
    snapshots = [json.loads(line) for line in out.splitlines()]
    assert [s["completed_count"] for s in snapshots] == [0, 1, 2, 3]
    assert snapshots[-1]["status"] == "BATCH_STATUS_COMPLETED"


async def test_batch_cancel_prints_the_batch(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await run(capsys, "--target", fake.target, "batch", "cancel", "b1")
    assert code == 0
    assert json.loads(out)["id"] == "b1"


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _cli.main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for line in (
        "3   invalid request",
        "4   not found",
        "8   rate limited",
        "9   server unreachable",
    ):
        assert line in out


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_rich_the_progress_is_a_plain_line_that_stdout_rows_do_not_cut() -> None:
    out, err = FakeTerminal(), FakeTerminal()
    bar = _progress._Plain("analysing", 3, out, err)
    bar.advance()
    bar.write("row 1")
    bar.close()
    assert out.getvalue() == "row 1\n"
    assert "analysing 1/3" in err.getvalue()
    assert err.getvalue().endswith("\r\x1b[K")


def test_no_progress_when_stderr_is_not_a_terminal() -> None:
    out = io.StringIO()
    bar = _progress.progress("x", 10, enabled=True, out=out, err=io.StringIO())
    bar.advance()
    bar.write("line")
    assert out.getvalue() == "line\n"
