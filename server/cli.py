"""The textlens-server command line: serve, migrate, token."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from server.config import Settings
from server.logs import configure_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textlens-server",
        description="TextLens text-analysis gRPC server. Settings come from TEXTLENS_* variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="start the gRPC server")
    return parser


def _run_event_loop(coro: object) -> None:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up, absent on some platforms
    except ImportError:  # pragma: no cover
        asyncio.run(coro)  # type: ignore[arg-type]
    else:
        uvloop.run(coro)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        from server.app import serve  # noqa: PLC0415 - keep `--help` fast

        _run_event_loop(serve(settings, banner=sys.stdout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
