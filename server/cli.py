"""The textlens-server command line: serve, migrate, token."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization

from server.config import Settings
from server.domain.errors import SchemaOutOfDate, Unavailable
from server.logs import configure_logging
from server.transport.auth import ALL_SCOPES, issue_token, load_keys

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
    serve.add_argument("--worker-of", type=Path, help=argparse.SUPPRESS)
    commands.add_parser("migrate", help="apply pending database migrations, then exit")
    token = commands.add_parser(
        "token", help="print a JWT signed with the configured key (TEXTLENS_JWT_SECRET)"
    )
    token.add_argument("--subject", required=True, help="the 'sub' claim")
    token.add_argument(
        "--scope",
        default=" ".join(ALL_SCOPES),
        help="space-separated scopes (default: all of %(default)r)",
    )
    token.add_argument("--tenant", help="the 'tenant' claim (default: the subject)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.add_argument(
        "--private-key",
        type=Path,
        help="PEM private key, for RS256/ES256 (the server holds only the public key)",
    )
    return parser


def _token(settings: Settings, args: argparse.Namespace) -> int:
    keys = load_keys(settings)
    if keys.generated:
        print(
            "textlens-server: no key configured; set TEXTLENS_JWT_SECRET (or "
            "TEXTLENS_JWT_PUBLIC_KEY_FILE with --private-key) to the server's",
            file=sys.stderr,
        )
        return 2
    signing_key = None
    if args.private_key is not None:
        signing_key = serialization.load_pem_private_key(args.private_key.read_bytes(), None)
    try:
        token = issue_token(
            keys,
            subject=args.subject,
            scopes=args.scope.split(),
            tenant=args.tenant,
            ttl_seconds=args.ttl,
            signing_key=signing_key,
        )
    except ValueError as exc:
        print(f"textlens-server: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


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
    if args.command == "token":
        return _token(settings, args)
    try:
        if args.command == "serve" and settings.workers > 1 and args.worker_of is None:
            # The parent only watches its children: it never loads the service itself.
            from server.supervisor import Supervisor  # noqa: PLC0415

            return _run(Supervisor(settings, migrate_schema=args.migrate).run(sys.stdout))
        from server import app  # noqa: PLC0415 - keep `--help` and the supervisor light

        if args.command == "serve":
            _run(
                app.serve(
                    settings,
                    migrate_schema=args.migrate,
                    banner=sys.stdout,
                    worker_of=args.worker_of,
                )
            )
        elif args.command == "migrate":
            revision = _run(app.run_migrations(settings))
            print(f"database schema at revision {revision}")
    except (SchemaOutOfDate, Unavailable) as exc:
        print(f"textlens-server: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
