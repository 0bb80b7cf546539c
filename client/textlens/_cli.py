"""The ``textlens`` command line: every TextLens call from a shell, JSON out."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import grpc

from textlens import _errors, _output, _progress, _values
from textlens._channel import TLS
from textlens._client import DEFAULT_TIMEOUT, AsyncClient
from textlens._streaming import ThreadedSource
from textlens.v1 import batch_pb2

DEFAULT_TARGET = "127.0.0.1:50051"

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

input files hold one text per line ('-' reads stdin); blank lines are skipped and
each text's ref is its line number.

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


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The connection options; subcommands take them too (``textlens get ID --target X``)."""
    default = argparse.SUPPRESS if suppress else None
    conn = parser.add_argument_group("connection")
    conn.add_argument("--target", default=default, help="host:port (env TEXTLENS_TARGET)")
    conn.add_argument("--token", default=default, help="bearer token, a JWT (env TEXTLENS_TOKEN)")
    conn.add_argument(
        "--tls", action="store_true", default=argparse.SUPPRESS if suppress else False,
        help="use TLS with the system's CAs",
    )  # fmt: skip
    conn.add_argument(
        "--tls-ca", type=Path, metavar="FILE", default=default, help="CA bundle (PEM)"
    )
    conn.add_argument(
        "--tls-cert", type=Path, metavar="FILE", default=default, help="client cert (mTLS)"
    )
    conn.add_argument(
        "--tls-key", type=Path, metavar="FILE", default=default, help="client key (mTLS)"
    )
    conn.add_argument("--tls-server-name", metavar="NAME", default=default, help="name in the cert")
    conn.add_argument(
        "--timeout", type=float, metavar="SECONDS", default=default,
        help=f"deadline per call, retries included (default {DEFAULT_TIMEOUT:g}; "
        "stream and watch: none)",
    )  # fmt: skip
    parser.add_argument(
        "--no-progress", action="store_true", default=argparse.SUPPRESS if suppress else False,
        help="no progress bar even on a terminal",
    )  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textlens",
        description="Call a TextLens server: analyse texts, manage batches, check health.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(parser, suppress=False)
    commands = _Commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))

    types = _values.ANALYSIS_TYPES
    analyze = commands.add_parser("analyze", help="analyse one text and store the analysis")
    analyze.add_argument("text")
    analyze.add_argument("--type", choices=types, default="sentiment")
    analyze.add_argument("--request-id", help="idempotency key (default: a fresh one)")

    get = commands.add_parser("get", help="show one analysis")
    get.add_argument("id")

    listing = commands.add_parser("list", help="list analyses, newest first (JSON lines)")
    listing.add_argument("--type", choices=types)
    listing.add_argument("--status", choices=_values.ANALYSIS_STATUSES)
    listing.add_argument("--batch", metavar="BATCH_ID", help="only the results of this batch")
    listing.add_argument("--order-by", default="", help='"create_time" or "update_time" [desc]')
    listing.add_argument("--limit", type=int, default=20, help="at most N (0: all; default 20)")

    delete = commands.add_parser("delete", help="delete one analysis")
    delete.add_argument("id")

    stream = commands.add_parser(
        "stream", help="analyse a file's lines over AnalyzeStream (JSON lines, or a table)"
    )
    stream.add_argument("file", help="one text per line; - for stdin")
    stream.add_argument("--type", choices=types, default="sentiment")
    stream.add_argument("--batch-size", type=int, default=100, help="texts per message")
    stream.add_argument("--max-in-flight", type=int, default=1000, help="texts ahead of results")
    stream.add_argument(
        "--format", choices=["auto", "json", "table"], default="auto", help="auto: table on a TTY"
    )

    batch = commands.add_parser("batch", help="durable background batches")
    batch_commands = _Commands(
        batch.add_subparsers(dest="batch_command", required=True, metavar="COMMAND")
    )
    create = batch_commands.add_parser("create", help="store a batch of a file's lines")
    create.add_argument("file", help="one text per line; - for stdin")
    create.add_argument("--type", choices=types, default="sentiment")
    create.add_argument("--request-id", help="idempotency key (default: a fresh one)")
    create.add_argument("--watch", action="store_true", help="follow it until it finishes")
    batch_commands.add_parser("get", help="show one batch").add_argument("id")
    batch_list = batch_commands.add_parser("list", help="list batches (JSON lines)")
    batch_list.add_argument("--status", choices=_values.BATCH_STATUSES)
    batch_list.add_argument("--type", choices=types)
    batch_list.add_argument("--order-by", default="")
    batch_list.add_argument("--limit", type=int, default=20, help="at most N (0: all)")
    batch_commands.add_parser("cancel", help="cancel a batch").add_argument("id")
    batch_commands.add_parser("watch", help="follow a batch until it finishes").add_argument("id")

    health = commands.add_parser("health", help="check the server's health")
    health.add_argument("--service", default="", help="a service name; empty for the server")
    return parser


class _Commands:
    """Adds subcommands that accept the connection options after their name too."""

    def __init__(self, action: Any) -> None:
        self._action = action

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self._action.add_parser(name, **kwargs)
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


def _lines(path: str) -> Iterator[tuple[str, str]]:
    """(line number, text) for each non-blank line."""
    stream: TextIO = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    try:
        for number, line in enumerate(stream, start=1):
            text = line.rstrip("\r\n")
            if text.strip():
                yield str(number), text
    finally:
        if stream is not sys.stdin:
            stream.close()


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    with open(path, encoding="utf-8") as stream:
        return sum(1 for line in stream if line.strip())


def _check_readable(path: str) -> None:
    if path != "-" and not os.access(path, os.R_OK):
        raise _Usage(f"cannot read {path}")


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

    async def analyze(self) -> int:
        analysis = await self.client.create_analysis(
            self.args.text,
            analysis_type=self.args.type,
            request_id=self.args.request_id,
            timeout=self.unary_timeout,
        )
        self.print(_output.to_json(analysis, pretty=True))
        return EXIT_OK

    async def get(self) -> int:
        analysis = await self.client.get_analysis(self.args.id, timeout=self.unary_timeout)
        self.print(_output.to_json(analysis, pretty=True))
        return EXIT_OK

    async def list(self) -> int:
        limit = self.args.limit
        count = 0
        async for analysis in self.client.list_analyses(
            page_size=min(limit, 100) if limit > 0 else 100,
            analysis_type=self.args.type,
            status=self.args.status,
            batch_id=self.args.batch or "",
            order_by=self.args.order_by,
            timeout=self.unary_timeout,
        ):
            self.print(_output.to_json(analysis, pretty=False))
            count += 1
            if count == limit:
                break
        return EXIT_OK

    async def delete(self) -> int:
        await self.client.delete_analysis(self.args.id, timeout=self.unary_timeout)
        print(f"deleted {self.args.id}", file=sys.stderr)
        return EXIT_OK

    async def stream(self) -> int:
        args = self.args
        _check_readable(args.file)
        table = args.format == "table" or (args.format == "auto" and self.out.isatty())
        bar = _progress.progress(
            "analysing", _count_lines(args.file), enabled=self.progress_enabled
        )
        failed = 0
        try:
            if table:
                bar.write(_output.TABLE_HEADER)
            async for result in self.client._analyze_source(
                ThreadedSource(_lines(args.file)),
                analysis_type=args.type,
                batch_size=args.batch_size,
                max_in_flight=args.max_in_flight,
                timeout=args.timeout,
                metadata=(),
            ):
                failed += not result.ok
                line = (
                    _output.stream_result_row(result)
                    if table
                    else _output.stream_result_json(result)
                )
                bar.write(line)
                bar.advance()
        finally:
            bar.close()
        if failed:
            print(f"textlens: {failed} texts were rejected", file=sys.stderr)
            return EXIT_NEGATIVE
        return EXIT_OK

    async def batch(self) -> int:
        handler: Callable[[], Awaitable[int]] = getattr(self, "batch_" + self.args.batch_command)
        return await handler()

    async def batch_create(self) -> int:
        args = self.args
        _check_readable(args.file)
        texts = [text for _, text in _lines(args.file)]
        batch = await self.client.create_batch(
            texts, analysis_type=args.type, request_id=args.request_id, timeout=self.unary_timeout
        )
        if not args.watch:
            self.print(_output.to_json(batch, pretty=True))
            return EXIT_OK
        return await self._watch(batch)

    async def batch_get(self) -> int:
        batch = await self.client.get_batch(self.args.id, timeout=self.unary_timeout)
        self.print(_output.to_json(batch, pretty=True))
        return EXIT_OK

    async def batch_list(self) -> int:
        limit = self.args.limit
        count = 0
        async for batch in self.client.list_batches(
            page_size=min(limit, 100) if limit > 0 else 100,
            status=self.args.status,
            analysis_type=self.args.type,
            order_by=self.args.order_by,
            timeout=self.unary_timeout,
        ):
            self.print(_output.to_json(batch, pretty=False))
            count += 1
            if count == limit:
                break
        return EXIT_OK

    async def batch_cancel(self) -> int:
        batch = await self.client.cancel_batch(self.args.id, timeout=self.unary_timeout)
        self.print(_output.to_json(batch, pretty=True))
        return EXIT_OK

    async def batch_watch(self) -> int:
        return await self._watch(
            await self.client.get_batch(self.args.id, timeout=self.unary_timeout)
        )

    async def _watch(self, batch: batch_pb2.Batch) -> int:
        """JSON lines of snapshots when piped; a progress bar, then the last one, on a TTY."""
        interactive = self.out.isatty()
        bar = _progress.progress("batch", batch.total_count, enabled=self.progress_enabled)
        last = batch
        try:
            if not interactive:
                self.print(_output.to_json(batch, pretty=False))
            async for snapshot in self.client.watch_batch(batch.id, timeout=self.args.timeout):
                if not interactive and snapshot != last:
                    self.print(_output.to_json(snapshot, pretty=False))
                last = snapshot
                bar.update(snapshot.completed_count + snapshot.failed_count, snapshot.total_count)
        finally:
            bar.close()
        if interactive:
            self.print(_output.to_json(last, pretty=True))
        if last.status in (batch_pb2.BATCH_STATUS_FAILED, batch_pb2.BATCH_STATUS_CANCELLED):
            return EXIT_NEGATIVE
        return EXIT_OK

    async def health(self) -> int:
        status = await self.client.health(self.args.service, timeout=self.unary_timeout)
        self.print(status)
        return EXIT_OK if status == "SERVING" else EXIT_NEGATIVE


async def _run(args: argparse.Namespace) -> int:
    async with AsyncClient(args.target, tls=_tls(args), token=args.token or None) as client:
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
        print(f"textlens: error: {error}", file=sys.stderr)
        return exit_code(error)
    except BrokenPipeError:
        # The reader went away (| head): not an error; keep the exit flush quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (_Usage, OSError, UnicodeDecodeError) as error:
        print(f"textlens: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("textlens: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
