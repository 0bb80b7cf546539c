"""The ``textlens`` command line: every TextLens call from a shell, JSON out."""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import platform
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TextIO

import grpc

from textlens import _errors, _json, _output, _progress, _values
from textlens._channel import TLS
from textlens._client import DEFAULT_TIMEOUT, AsyncClient
from textlens._retry import Retry
from textlens._streaming import ThreadedSource
from textlens.v1 import analysis_pb2, batch_pb2

DEFAULT_TARGET = "127.0.0.1:50051"
DEFAULT_CONNECT_TIMEOUT = 3.0
STDIN = "-"

EXIT_OK = 0
EXIT_NEGATIVE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# One exit status per class of failure, so scripts can tell them apart.
_EXIT_BY_CODE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 3,
    grpc.StatusCode.OUT_OF_RANGE: 3,
    grpc.StatusCode.NOT_FOUND: 4,
    grpc.StatusCode.ALREADY_EXISTS: 5,
    grpc.StatusCode.FAILED_PRECONDITION: 5,
    grpc.StatusCode.ABORTED: 5,
    grpc.StatusCode.UNAUTHENTICATED: 6,
    grpc.StatusCode.PERMISSION_DENIED: 7,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 8,
    grpc.StatusCode.UNAVAILABLE: 9,
    grpc.StatusCode.DEADLINE_EXCEEDED: 9,
    grpc.StatusCode.CANCELLED: 9,
}
EXIT_SERVER_ERROR = 10  # INTERNAL, UNKNOWN, DATA_LOSS, UNIMPLEMENTED, protocol errors

EPILOG = """\
environment:
  TEXTLENS_TARGET   default for --target (else 127.0.0.1:50051)
  TEXTLENS_TOKEN    default for --token

input: TEXT or FILE may be '-' to read stdin. Files hold one text per line; blank
lines are skipped and each text's ref is its line number.

output: JSON as grpcurl prints it (one message pretty-printed; JSON lines for lists and
streams when piped), tables for lists and streams on a terminal; --output chooses.

exit status:
  0   success
  1   the call worked but the outcome is negative: health not SERVING, a streamed
      text rejected, a watched batch ended FAILED or CANCELLED
  2   usage error: bad arguments, unreadable file
  3   invalid request (INVALID_ARGUMENT, OUT_OF_RANGE)
  4   not found (NOT_FOUND)
  5   conflict with the current state (ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED)
  6   not authenticated (UNAUTHENTICATED): missing, malformed or expired token
  7   not allowed (PERMISSION_DENIED): the token lacks a scope
  8   rate limited (RESOURCE_EXHAUSTED), after the client's own retries
  9   server unreachable or too slow (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED)
  10  server error (INTERNAL, UNKNOWN, DATA_LOSS, UNIMPLEMENTED, a broken answer)
  130 interrupted
"""


def exit_code(error: _errors.TextLensError) -> int:
    """The exit status for a failed call."""
    if isinstance(error, _errors.ProtocolError):
        return EXIT_SERVER_ERROR
    return _EXIT_BY_CODE.get(error.code, EXIT_SERVER_ERROR)


def version() -> str:
    import google.protobuf  # noqa: PLC0415 - only --version needs it

    from textlens import __version__  # noqa: PLC0415 - the package imports this module's deps

    return (
        f"textlens {__version__} (Python {platform.python_version()}, "
        f"grpcio {grpc.__version__}, protobuf {google.protobuf.__version__})"
    )


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout and adds "(default: X)" to options that have one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and action.option_strings
            and default not in (None, False, "", argparse.SUPPRESS)
            and not isinstance(action, argparse._VersionAction)
        ):
            text += " (default: %(default)s)"
        return text


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The connection options; subcommands take them too (``textlens get ID --target X``)."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    conn = parser.add_argument_group("connection")
    conn.add_argument(
        "--target", default=default(None), metavar="HOST:PORT",
        help=f"the server; dns:///NAME:PORT balances over every address "
        f"(env TEXTLENS_TARGET, else {DEFAULT_TARGET})",
    )  # fmt: skip
    conn.add_argument(
        "--token", default=default(None), help="bearer token, a JWT (env TEXTLENS_TOKEN)"
    )
    conn.add_argument(
        "--tls", action="store_true", default=default(False), help="use TLS with the system's CAs"
    )
    conn.add_argument("--tls-ca", metavar="FILE", default=default(None), help="CA bundle (PEM)")
    conn.add_argument(
        "--tls-cert", metavar="FILE", default=default(None), help="client certificate (mTLS)"
    )
    conn.add_argument("--tls-key", metavar="FILE", default=default(None), help="client key (mTLS)")
    conn.add_argument(
        "--tls-server-name", metavar="NAME", default=default(None),
        help="the name to verify in the server's certificate",
    )  # fmt: skip
    conn.add_argument(
        "--timeout", type=float, metavar="SECONDS", default=default(None),
        help=f"deadline per call, retries included (default {DEFAULT_TIMEOUT:g}; "
        "stream, watch and results: none)",
    )  # fmt: skip
    conn.add_argument(
        "--connect-timeout", type=float, metavar="SECONDS",
        default=default(DEFAULT_CONNECT_TIMEOUT),
        help="how long to wait for a connection; a refused one fails at once (0: retry "
        "like any other failure, within --timeout)",
    )  # fmt: skip
    conn.add_argument(
        "--no-retry", action="store_true", default=default(False),
        help="fail at once instead of retrying when rate limited or the server is unavailable",
    )  # fmt: skip
    parser.add_argument(
        "--no-progress", action="store_true", default=default(False),
        help="no progress bar even on a terminal",
    )  # fmt: skip


def _output_option(parser: argparse.ArgumentParser, *aliases: str) -> None:
    parser.add_argument(
        "--output", *aliases, choices=["auto", "json", "table"], default="auto", dest="output",
        help="auto: a table on a terminal, JSON lines otherwise",
    )  # fmt: skip


def _quiet_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "-q", "--quiet", action="store_true",
        help=f"print only the {what}'s id, for scripts: ID=$(textlens ... -q)",
    )  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textlens",
        description="Call a TextLens server: analyse texts, manage batches, check health.",
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=version())
    _add_common(parser, suppress=False)
    commands = _Commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    types = _values.ANALYSIS_TYPES

    analyze = commands.add(
        "analyze", "analyse one text now, store the analysis and print it (CreateAnalysis)"
    )
    analyze.add_argument("text", metavar="TEXT", help="the text; - reads it from stdin")
    analyze.add_argument("--type", choices=types, default="sentiment", help="analysis type")
    analyze.add_argument("--request-id", help="idempotency key (default: a fresh one)")
    _quiet_option(analyze, "analysis")

    commands.add("get", "print one analysis (GetAnalysis)").add_argument("id", metavar="ID")

    listing = commands.add(
        "list", "list analyses, newest first; a batch's results in input order (ListAnalyses)"
    )
    listing.add_argument("--type", choices=types, help="only this analysis type")
    listing.add_argument("--status", choices=_values.ANALYSIS_STATUSES, help="only this status")
    listing.add_argument("--batch", metavar="BATCH_ID", help="only the results of this batch")
    listing.add_argument(
        "--order-by", default="",
        help='"create_time", "update_time" (with --batch also "batch_item"), then optionally '
        '" desc" (default: "create_time desc"; with --batch "batch_item")',
    )  # fmt: skip
    listing.add_argument("--limit", type=int, default=20, help="at most N; 0 for all")
    _output_option(listing)

    commands.add("delete", "delete one analysis (DeleteAnalysis)").add_argument("id", metavar="ID")

    stream = commands.add(
        "stream", "analyse a file's lines over one AnalyzeStream call, results in input order"
    )
    stream.add_argument("file", metavar="FILE", help="one text per line; - reads stdin")
    stream.add_argument("--type", choices=types, default="sentiment", help="analysis type")
    stream.add_argument("--batch-size", type=int, default=100, help="texts per message")
    stream.add_argument(
        "--max-in-flight", type=int, default=1000, help="texts sent ahead of their results"
    )
    _output_option(stream, "--format")

    batch = commands.add("batch", "durable background batches (BatchService)")
    batch_commands = _Commands(
        batch.add_subparsers(dest="batch_command", required=True, metavar="COMMAND")
    )
    create = batch_commands.add(
        "create", "store a batch of a file's lines for background analysis (CreateBatch)"
    )
    create.add_argument("file", metavar="FILE", help="one text per line; - reads stdin")
    create.add_argument("--type", choices=types, default="sentiment", help="analysis type")
    create.add_argument("--request-id", help="idempotency key (default: a fresh one)")
    create.add_argument("--watch", action="store_true", help="follow it until it finishes")
    _quiet_option(create, "batch")
    batch_commands.add("get", "print one batch with its counters (GetBatch)").add_argument(
        "id", metavar="ID"
    )
    batch_list = batch_commands.add("list", "list batches, newest first (ListBatches)")
    batch_list.add_argument("--status", choices=_values.BATCH_STATUSES, help="only this status")
    batch_list.add_argument("--type", choices=types, help="only this analysis type")
    batch_list.add_argument(
        "--order-by", default="",
        help='"create_time" or "update_time", then optionally " desc" '
        '(default: "create_time desc")',
    )  # fmt: skip
    batch_list.add_argument("--limit", type=int, default=20, help="at most N; 0 for all")
    _output_option(batch_list)
    batch_commands.add(
        "cancel", "cancel a batch: texts not yet analysed never will be (CancelBatch)"
    ).add_argument("id", metavar="ID")
    batch_commands.add(
        "watch",
        "follow a batch until it finishes: a progress bar on a terminal, each snapshot as a "
        "JSON line when piped (WatchBatch)",
    ).add_argument("id", metavar="ID")
    results = batch_commands.add(
        "results",
        "one line per input text, in input order, with its index and result or error; waits "
        "for the batch to finish first (ListAnalyses with batch_id)",
    )
    results.add_argument("id", metavar="ID")
    results.add_argument(
        "--output", choices=["jsonl", "json", "csv"], default="jsonl",
        help="jsonl (json is the same): {\"index\", \"analysis\", \"error\"} per line; csv: "
        "a header, then the result's main figures per line",
    )  # fmt: skip
    results.add_argument(
        "--no-wait", action="store_true",
        help="print the results stored so far instead of waiting for the batch to finish",
    )  # fmt: skip

    health = commands.add("health", "check the server's health (grpc.health.v1 Check)")
    health.add_argument("--service", default="", help="a service name; empty for the server")
    return parser


class _Commands:
    """Adds subcommands with a description, that take the connection options too."""

    def __init__(self, action: Any) -> None:
        self._action = action

    def add(self, name: str, description: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self._action.add_parser(
            name, help=description, description=description[0].upper() + description[1:] + ".",
            formatter_class=_Formatter,
        )  # fmt: skip
        _add_common(parser, suppress=True)
        return parser


class _Usage(Exception):
    """A problem with the command line's input, reported with exit status 2."""


def _tls(args: argparse.Namespace) -> TLS | bool:
    if args.tls_ca or args.tls_cert or args.tls_key or args.tls_server_name:
        try:
            return TLS(
                ca=args.tls_ca,
                cert=args.tls_cert,
                key=args.tls_key,
                server_name=args.tls_server_name,
            )
        except ValueError as exc:
            raise _Usage(str(exc)) from None
    return bool(args.tls)


def _unreadable(path: str, exc: BaseException) -> _Usage:
    name = "stdin" if path == STDIN else path
    if isinstance(exc, UnicodeDecodeError):
        return _Usage(f"cannot read {name}: not UTF-8 text (byte {exc.start} of a line)")
    if isinstance(exc, OSError) and exc.strerror:
        return _Usage(f"cannot read {name}: {exc.strerror}")
    return _Usage(f"cannot read {name}: {exc}")


def _open(path: str) -> TextIO:
    if path == STDIN:
        return sys.stdin
    try:
        return open(path, encoding="utf-8")
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _lines(path: str) -> Iterator[tuple[str, str]]:
    """(line number, text) for each non-blank line."""
    stream = _open(path)
    try:
        for number, line in enumerate(stream, start=1):
            text = line.rstrip("\r\n")
            if text.strip():
                yield str(number), text
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None
    finally:
        if stream is not sys.stdin:
            stream.close()


def _count_lines(path: str) -> int | None:
    if path == STDIN:
        return None
    return sum(1 for _ in _lines(path))


def _wait(seconds: float) -> str:
    """``0.4 s`` below a second, else whole seconds rounded up, as the server says them."""
    return f"{max(seconds, 0.1):.1f} s" if seconds < 1 else f"{math.ceil(seconds)} s"


def _notice_retry(error: _errors.TextLensError, seconds: float) -> None:
    """Tells the user why the command is waiting (stderr; stdout stays data)."""
    if isinstance(error, _errors.ResourceExhausted):
        print(f"textlens: rate limited, retrying in {_wait(seconds)}", file=sys.stderr)
    elif seconds >= 1:  # shorter waits pass unnoticed; saying so would be noise
        why = error.reason or error.message
        print(
            f"textlens: server unavailable ({why}), retrying in {_wait(seconds)}", file=sys.stderr
        )


def _describe(error: _errors.TextLensError) -> str:
    """The error line, with a hint where the fix is usually on the user's side."""
    if isinstance(error, _errors.Unavailable) and error.unreachable:
        if "TLS" in error.message:
            return f"{error.message}. Use --tls or --tls-ca if and only if the server serves TLS"
        if "host not found" in error.message or "invalid port" in error.message:
            return f"{error.message}. Is the address right (--target, TEXTLENS_TARGET)?"
        return f"{error.message}. Is the server running?"
    return str(error)


class Command:
    """One run of the command line: parsed arguments, a client, and the output streams."""

    def __init__(self, args: argparse.Namespace, client: AsyncClient) -> None:
        self.args = args
        self.client = client
        self.out = sys.stdout
        self.progress_enabled = not args.no_progress

    @property
    def unary_timeout(self) -> float:
        return DEFAULT_TIMEOUT if self.args.timeout is None else float(self.args.timeout)

    def print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def table(self) -> bool:
        output = self.args.output
        return output == "table" or (output == "auto" and self.out.isatty())

    async def analyze(self) -> int:
        text = self.args.text
        if text == STDIN:
            try:
                text = sys.stdin.read().removesuffix("\n")
            except (OSError, UnicodeDecodeError) as exc:
                raise _unreadable(STDIN, exc) from None
        analysis = await self.client.create_analysis(
            text,
            analysis_type=self.args.type,
            request_id=self.args.request_id,
            timeout=self.unary_timeout,
        )
        self.print(analysis.id if self.args.quiet else _output.to_json(analysis, pretty=True))
        return EXIT_OK

    async def get(self) -> int:
        analysis = await self.client.get_analysis(self.args.id, timeout=self.unary_timeout)
        self.print(_output.to_json(analysis, pretty=True))
        return EXIT_OK

    async def list(self) -> int:
        limit = self.args.limit
        table = self.table()
        count = 0
        async for analysis in self.client.list_analyses(
            page_size=min(limit, 100) if limit > 0 else 100,
            analysis_type=self.args.type,
            status=self.args.status,
            batch_id=self.args.batch or "",
            order_by=self.args.order_by,
            timeout=self.unary_timeout,
        ):
            if table and not count:
                self.print(_output.ANALYSIS_HEADER)
            self.print(
                _output.analysis_row(analysis) if table else _output.to_json(analysis, pretty=False)
            )
            count += 1
            if count == limit:
                break
        if table and not count:
            print("textlens: no analyses found", file=sys.stderr)
        return EXIT_OK

    async def delete(self) -> int:
        await self.client.delete_analysis(self.args.id, timeout=self.unary_timeout)
        print(f"deleted {self.args.id}", file=sys.stderr)
        return EXIT_OK

    async def stream(self) -> int:
        args = self.args
        table = self.table()
        total = _count_lines(args.file)  # also fails early on an unreadable file
        bar = _progress.progress("analysing", total, enabled=self.progress_enabled)
        rejected: dict[str, int] = {}
        sent = 0
        try:
            if table:
                bar.write(_output.STREAM_HEADER)
            async for result in self.client._analyze_source(
                ThreadedSource(_lines(args.file)),
                analysis_type=args.type,
                batch_size=args.batch_size,
                max_in_flight=args.max_in_flight,
                timeout=args.timeout,
                metadata=(),
            ):
                sent += 1
                if result.error is not None:
                    why = result.error.reason or result.error.code.name
                    rejected[why] = rejected.get(why, 0) + 1
                line = (
                    _output.stream_result_row(result)
                    if table
                    else _output.stream_result_json(result)
                )
                bar.write(line)
                bar.advance()
        finally:
            bar.close()
        if rejected:
            reasons = ", ".join(f"{n} {why}" for why, n in sorted(rejected.items()))
            count = sum(rejected.values())
            print(f"textlens: {count} of {sent} texts rejected: {reasons}", file=sys.stderr)
            return EXIT_NEGATIVE
        return EXIT_OK

    async def batch(self) -> int:
        handler: Callable[[], Awaitable[int]] = getattr(self, "batch_" + self.args.batch_command)
        return await handler()

    async def batch_create(self) -> int:
        args = self.args
        texts = [text for _, text in _lines(args.file)]
        batch = await self.client.create_batch(
            texts, analysis_type=args.type, request_id=args.request_id, timeout=self.unary_timeout
        )
        if args.quiet:
            self.print(batch.id)
        elif not args.watch:
            self.print(_output.to_json(batch, pretty=True))
        return await self._watch(batch, echo=not args.quiet) if args.watch else EXIT_OK

    async def batch_get(self) -> int:
        batch = await self.client.get_batch(self.args.id, timeout=self.unary_timeout)
        self.print(_output.to_json(batch, pretty=True))
        return EXIT_OK

    async def batch_list(self) -> int:
        limit = self.args.limit
        table = self.table()
        count = 0
        async for batch in self.client.list_batches(
            page_size=min(limit, 100) if limit > 0 else 100,
            status=self.args.status,
            analysis_type=self.args.type,
            order_by=self.args.order_by,
            timeout=self.unary_timeout,
        ):
            if table and not count:
                self.print(_output.BATCH_HEADER)
            self.print(_output.batch_row(batch) if table else _output.to_json(batch, pretty=False))
            count += 1
            if count == limit:
                break
        if table and not count:
            print("textlens: no batches found", file=sys.stderr)
        return EXIT_OK

    async def batch_cancel(self) -> int:
        batch = await self.client.cancel_batch(self.args.id, timeout=self.unary_timeout)
        self.print(_output.to_json(batch, pretty=True))
        return EXIT_OK

    async def batch_watch(self) -> int:
        return await self._watch(
            await self.client.get_batch(self.args.id, timeout=self.unary_timeout)
        )

    async def batch_results(self) -> int:
        batch = await self.client.get_batch(self.args.id, timeout=self.unary_timeout)
        if batch.status not in _values.TERMINAL_BATCH_STATUSES and not self.args.no_wait:
            batch = await self._follow(batch, echo=False)
        finished = batch.status in _values.TERMINAL_BATCH_STATUSES
        writer = _ResultWriter(self.out, self.args.output, batch.analysis_type)
        expected = 0
        async for analysis in self.client.list_analyses(
            batch_id=batch.id, order_by="batch_item", timeout=self.unary_timeout
        ):
            if finished:  # a finished batch's gaps are texts that were never analysed
                for missing in range(expected, analysis.batch_item):
                    writer.missing(missing, batch.status)
            writer.result(analysis)
            expected = analysis.batch_item + 1
        if finished:
            for missing in range(expected, batch.total_count):
                writer.missing(missing, batch.status)
        return EXIT_OK

    async def _follow(self, batch: batch_pb2.Batch, *, echo: bool) -> batch_pb2.Batch:
        """Watches until the batch finishes, with a progress bar on a terminal; returns
        the last snapshot. ``echo`` prints each snapshot as a JSON line when piped."""
        bar = _progress.progress("batch", batch.total_count, enabled=self.progress_enabled)
        last = batch
        echo = echo and not self.out.isatty()
        try:
            if echo:
                self.print(_output.to_json(batch, pretty=False))
            async for snapshot in self.client.watch_batch(batch.id, timeout=self.args.timeout):
                if echo and snapshot != last:
                    self.print(_output.to_json(snapshot, pretty=False))
                last = snapshot
                bar.update(snapshot.completed_count + snapshot.failed_count, snapshot.total_count)
        finally:
            bar.close()
        return last

    async def _watch(self, batch: batch_pb2.Batch, *, echo: bool = True) -> int:
        """JSON lines of snapshots when piped; a progress bar, then the last one, on a TTY.
        Without ``echo`` only the progress bar (and the exit status) tells."""
        last = await self._follow(batch, echo=echo)
        if echo and self.out.isatty():
            self.print(_output.to_json(last, pretty=True))
        if last.status in (batch_pb2.BATCH_STATUS_FAILED, batch_pb2.BATCH_STATUS_CANCELLED):
            return EXIT_NEGATIVE
        return EXIT_OK

    async def health(self) -> int:
        status = await self.client.health(self.args.service, timeout=self.unary_timeout)
        self.print(status)
        return EXIT_OK if status == "SERVING" else EXIT_NEGATIVE


class _ResultWriter:
    """``batch results``: one JSON line or CSV row per input text."""

    def __init__(self, out: TextIO, output: str, analysis_type: int) -> None:
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n") if output == "csv" else None
        self._type = analysis_type
        if self._csv is not None:
            self._csv.writerow(_output.csv_header(analysis_type))

    def result(self, analysis: analysis_pb2.Analysis) -> None:
        failed = analysis.status == analysis_pb2.ANALYSIS_STATUS_FAILED
        error = (analysis.error_message or "analysis failed") if failed else ""
        if self._csv is not None:
            self._csv.writerow(_output.csv_row(analysis.batch_item, analysis, error, self._type))
            return
        line: dict[str, Any] = {
            "index": analysis.batch_item,
            "analysis": _json.message_tree(analysis),
        }
        if error:
            line["error"] = error
        print(_output.json_line(line), file=self._out)

    def missing(self, index: int, status: int) -> None:
        cancelled = status == batch_pb2.BATCH_STATUS_CANCELLED
        error = "not analysed: the batch was cancelled" if cancelled else "not analysed"
        if self._csv is not None:
            self._csv.writerow(_output.csv_row(index, None, error, self._type))
        else:
            print(_output.json_line({"index": index, "error": error}), file=self._out)


async def _run(args: argparse.Namespace) -> int:
    retry = None if args.no_retry else Retry(on_retry=_notice_retry)
    connect_timeout = args.connect_timeout if args.connect_timeout > 0 else None
    async with AsyncClient(
        args.target,
        tls=_tls(args),
        token=args.token or None,
        retry=retry,
        connect_timeout=connect_timeout,
    ) as client:
        command = Command(args, client)
        handler: Callable[[], Awaitable[int]] = getattr(command, args.command)
        return await handler()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The command line is this program's composition root: the only place that reads
    # the environment.
    args.target = args.target or os.environ.get("TEXTLENS_TARGET") or DEFAULT_TARGET
    args.token = args.token or os.environ.get("TEXTLENS_TOKEN")
    try:
        return asyncio.run(_run(args))
    except _errors.TextLensError as error:
        print(f"textlens: error: {_describe(error)}", file=sys.stderr)
        return exit_code(error)
    except BrokenPipeError:
        # The reader went away (| head): not an error; keep the exit flush quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except _Usage as error:
        print(f"textlens: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # a TLS file named on the command line
        what = f"cannot read {error.filename}: {error.strerror}" if error.filename else error
        print(f"textlens: error: {what}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("textlens: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
