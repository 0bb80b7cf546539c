"""The textlens-server command line: serve, migrate, token."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from server.config import Settings
from server.domain.errors import Unavailable
from server.logs import configure_logging

T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textlens-server",
        description="TextLens text-analysis gRPC server. Settings come from TEXTLENS_* variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the gRPC server")
    serve.add_argument(
        "--migrate",
        action="store_true",
        help="apply pending database migrations first (always done for SQLite)",
    )
    commands.add_parser("migrate", help="apply pending database migrations, then exit")
    return parser


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up, absent on some platforms
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    from server import app  # noqa: PLC0415 - keep `--help` fast

    try:
        if args.command == "serve":
            _run(app.serve(settings, migrate_schema=args.migrate, banner=sys.stdout))
        elif args.command == "migrate":
            revision = _run(app.run_migrations(settings))
            print(f"database schema at revision {revision}")
    except (app.SchemaOutOfDate, Unavailable) as exc:
        print(f"textlens-server: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
