"""The textlens command line against the scripted server: output, errors and exit codes."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import grpc
import pytest
from fakeserver import FakeServer, rate_limited

import textlens
from textlens import _cli, _progress
from textlens.v1 import batch_pb2


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
    assert analysis["analysisType"] == "ANALYSIS_TYPE_QUALITY"
    assert err == ""


async def test_analyze_dash_reads_the_text_from_stdin(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("A text from a pipe.\n"))
    code, out, _ = await run(capsys, "--target", fake.target, "analyze", "-")
    assert code == 0
    assert json.loads(out)["text"] == "A text from a pipe."
    assert fake.script.of("CreateAnalysis")[-1].request.text == "A text from a pipe."


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


async def test_while_rate_limited_it_says_so_and_retries_after_the_servers_delay(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.script.fail("CreateAnalysis", rate_limited(0.05), rate_limited(1.5))
    code, out, err = await run(capsys, "--target", fake.target, "analyze", "x")
    assert code == 0
    assert json.loads(out)["text"] == "x"
    assert err.splitlines() == [
        "textlens: rate limited, retrying in 0.1 s",
        "textlens: rate limited, retrying in 2 s",
    ]
    assert len(fake.script.of("CreateAnalysis")) == 3


async def test_no_retry_fails_at_once_when_rate_limited(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.script.fail("CreateAnalysis", rate_limited(0.05))
    code, out, err = await run(capsys, "--target", fake.target, "--no-retry", "analyze", "x")
    assert (code, out) == (8, "")
    assert "retrying" not in err
    assert len(fake.script.of("CreateAnalysis")) == 1


async def test_an_unreachable_server_fails_at_once_with_the_address_and_a_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for target, shown in (("127.0.0.1:1", "127.0.0.1:1"), ("[::1]:1", "[::1]:1")):
        code, _, err = await run(capsys, "--target", target, "get", "x")
        assert code == 9
        assert err == (
            f"textlens: error: cannot reach TextLens at {shown} (connection refused). "
            "Is the server running?\n"
        )


async def test_a_server_that_never_answers_fails_after_the_connect_timeout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A socket that accepts connections but never speaks HTTP/2: gRPC keeps connecting.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        code, _, err = await run(
            capsys, "--target", f"127.0.0.1:{port}", "--connect-timeout", "0.3", "health"
        )
    finally:
        listener.close()
    assert code == 9
    assert err == (
        f"textlens: error: cannot reach TextLens at 127.0.0.1:{port} "
        "(no connection within 0.3 s). Is the server running?\n"
    )


async def test_a_missing_file_is_a_usage_error_that_gives_the_cause(
    fake: FakeServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "reviews.txt"
    for argv in (("stream", str(missing)), ("batch", "create", str(missing))):
        code, _, err = await run(capsys, "--target", fake.target, *argv)
        assert code == 2
        assert err == f"textlens: error: cannot read {missing}: No such file or directory\n"
    code, _, err = await run(capsys, "--target", fake.target, "stream", str(tmp_path))
    assert (code, err) == (2, f"textlens: error: cannot read {tmp_path}: Is a directory\n")
    assert fake.script.calls == [], "nothing was sent"


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
    assert err == "textlens: 1 of 3 texts rejected: 1 TEXT_EMPTY\n"


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


async def test_list_and_batch_list_print_tables_when_asked(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    await run(capsys, "--target", fake.target, "analyze", "Lovely day")
    code, out, _ = await run(capsys, "--target", fake.target, "list", "--output", "table")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["ID", "TYPE", "STATUS", "RESULT", "CREATED", "TEXT"]
    assert row.split() == [
        "a1",
        "sentiment",
        "completed",
        "positive",
        "+0.50",
        "-",
        "Lovely",
        "day",
    ]
    code, out, _ = await run(capsys, "--target", fake.target, "batch", "list", "--output", "table")
    header, row = out.splitlines()
    assert header.split() == ["ID", "TYPE", "STATUS", "DONE", "FAILED", "CREATED"]
    assert row.split() == ["b1", "sentiment", "running", "0/3", "0", "-"]


async def test_batch_results_waits_then_writes_one_json_line_per_text_in_input_order(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.analyses.add_batch_result("b1", 2, "Third.")
    fake.analyses.add_batch_result("b1", 0, "First.")
    fake.analyses.add_batch_result("b1", 1, "Second.", failed=True)
    fake.analyses.add_batch_result("other", 0, "Not this batch.")
    code, out, _ = await run(capsys, "--target", fake.target, "batch", "results", "b1")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert fake.script.of("WatchBatch"), "it waited for the batch to finish"
    assert [(line["index"], line["analysis"]["text"]) for line in lines] == [
        (0, "First."),
        (1, "Second."),
        (2, "Third."),
    ]
    assert lines[0]["analysis"]["sentiment"]["label"] == "SENTIMENT_LABEL_POSITIVE"
    assert "error" not in lines[0]
    assert lines[1]["error"] == "the analyzer could not process this text"


async def test_batch_results_as_csv_name_the_texts_a_cancelled_batch_never_analysed(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.batches.total = 4
    fake.batches.final_status = batch_pb2.BATCH_STATUS_CANCELLED
    fake.analyses.add_batch_result("b1", 1, "Second, with a comma.")
    code, out, _ = await run(
        capsys, "--target", fake.target, "batch", "results", "b1", "--output", "csv"
    )
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["index", "id", "status", "label", "score", "magnitude", "error", "text"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2", "3"]
    assert rows[2][2:5] == ["COMPLETED", "POSITIVE", "0.5"]
    assert rows[2][-1] == "Second, with a comma."
    assert {rows[i][-2] for i in (1, 3, 4)} == {"not analysed: the batch was cancelled"}


async def test_batch_watch_prints_each_snapshot_when_piped(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await run(capsys, "--target", fake.target, "batch", "watch", "b1")
    assert code == 0
    snapshots = [json.loads(line) for line in out.splitlines()]
    # As grpcurl prints them: a count at zero is left out.
    assert [s.get("completedCount", 0) for s in snapshots] == [0, 1, 2, 3]
    assert snapshots[-1]["status"] == "BATCH_STATUS_COMPLETED"


async def test_batch_cancel_prints_the_batch(
    fake: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await run(capsys, "--target", fake.target, "batch", "cancel", "b1")
    assert code == 0
    assert json.loads(out)["id"] == "b1"


def test_version_names_the_client_and_its_grpc(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _cli.main(["--version"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"textlens {textlens.__version__} (Python ")
    assert f"grpcio {grpc.__version__}" in out


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((prefix + name, sub))
                found += _subcommands(sub, prefix + name + " ")
    return found


def test_every_subcommand_has_a_description_and_shows_its_defaults() -> None:
    commands = _subcommands(_cli._parser())
    assert {name for name, _ in commands} >= {
        "analyze", "get", "list", "delete", "stream", "health", "batch", "batch create",
        "batch get", "batch list", "batch cancel", "batch watch", "batch results",
    }  # fmt: skip
    for name, parser in commands:
        text = parser.format_help()
        assert parser.description, name
        assert parser.description in " ".join(text.split()), name
        for action in parser._actions:
            has_default = action.default not in (None, False, "", argparse.SUPPRESS)
            if action.option_strings and has_default and action.dest != "help":
                assert f"(default: {action.default})" in " ".join(text.split()), (name, action.dest)


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
