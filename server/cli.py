"""The textlens-server command line: serve, migrate, token."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr, ValidationError

from server.adapters.db import SchemaOutOfDate
from server.auth.keys import ConfigurationError, dev_secret, purpose_secret
from server.auth.tokens import (
    ALL_SCOPES,
    NO_KEY_MESSAGE,
    TENANT_PATTERN,
    TENANT_RULE,
    issue_token,
    load_keys,
)
from server.config import Settings, describe
from server.domain.errors import Unavailable
from server.logs import announce, configure_logging, loop_exception_handler
from server.ports import PortInUse, reserve

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
    serve.add_argument(
        "--dev",
        action="store_true",
        help="local development: with no key configured, sign tokens with a secret kept in "
        "TEXTLENS_DEV_SECRET_FILE (.textlens-dev-secret, created on first run) and print a "
        "token",
    )
    serve.add_argument("--worker-of", type=Path, help=argparse.SUPPRESS)
    serve.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    commands.add_parser("migrate", help="apply pending database migrations, then exit")
    token = commands.add_parser(
        "token",
        help="print a JWT signed with the configured key (TEXTLENS_JWT_SECRET), or with the "
        "development secret of `serve --dev` when none is configured",
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
    dev = None
    if settings.jwt_secret is None and settings.jwt_public_key_file is None:
        if not settings.dev_secret_file.exists():
            print(f"textlens-server: {NO_KEY_MESSAGE}", file=sys.stderr)
            return 2
        dev, _ = dev_secret(settings.dev_secret_file)
        print(
            f"textlens-server: no key configured: signing with the development secret in "
            f"{settings.dev_secret_file} (the one `serve --dev` uses)",
            file=sys.stderr,
        )
    keys = load_keys(settings, dev)
    tenant = args.tenant or args.subject
    if not TENANT_PATTERN.fullmatch(tenant):
        option = "--tenant" if args.tenant else "--subject (the tenant without --tenant)"
        print(f"textlens-server: {option} must be {TENANT_RULE}", file=sys.stderr)
        return 2
    if args.ttl > keys.max_lifetime_seconds:
        print(
            f"textlens-server: --ttl {args.ttl} is longer than the server accepts "
            f"(TEXTLENS_JWT_MAX_LIFETIME_SECONDS={keys.max_lifetime_seconds})",
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


def _dev_secret(settings: Settings, args: argparse.Namespace) -> str | None:
    """The development secret, for `serve --dev` when no key is configured."""
    if not args.dev or settings.jwt_secret is not None:
        return None
    secret, created = dev_secret(settings.dev_secret_file)
    if created:
        announce(
            f"textlens-server: created {settings.dev_secret_file} (mode 0600), the development "
            "signing secret; keep it out of version control",
            sys.stderr,
            level="warning",
        )
    return secret


def _check_keys(settings: Settings, dev: str | None) -> None:
    """Refuses at once, before anything starts, settings that leave tokens unprotected."""
    load_keys(settings, dev)
    purpose_secret(
        page_token_secret=_value(settings.page_token_secret),
        jwt_secret=_value(settings.jwt_secret),
        dev_secret=dev,
    )


def _value(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(describe(exc)) from None


def _run(coro: Coroutine[Any, Any, T]) -> T:
    async def main() -> T:
        asyncio.get_running_loop().set_exception_handler(loop_exception_handler)
        return await coro

    try:
        import uvloop  # noqa: PLC0415 - optional speed-up, absent on some platforms
    except ImportError:  # pragma: no cover
        return asyncio.run(main())
    return uvloop.run(main())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings()
        configure_logging(
            settings.log_level, settings.log_format, route_native=args.command == "serve"
        )
        if args.command == "token":
            return _token(settings, args)
        dev = None
        if args.command == "serve":
            dev = _dev_secret(settings, args)
            _check_keys(settings, dev)
            from server.tracing import export_endpoint  # noqa: PLC0415

            export_endpoint(settings.otlp_endpoint, os.environ)
    except ConfigurationError as exc:
        announce(f"textlens-server: {exc}", sys.stderr, level="error")
        return 1
    guards = []
    if args.command == "serve" and args.worker_of is None and settings.port != 0:
        try:
            guards = reserve(settings.host, settings.port)
        except PortInUse as exc:
            print(exc, file=sys.stderr)
            return 1
    try:
        return _main(settings, args, dev)
    finally:
        for guard in guards:
            guard.close()


def _main(settings: Settings, args: argparse.Namespace, dev: str | None) -> int:
    try:
        if args.command == "serve" and settings.workers > 1 and args.worker_of is None:
            # The parent only watches its children: it never loads the service itself.
            from server.supervisor import Supervisor  # noqa: PLC0415

            supervisor = Supervisor(settings, migrate_schema=args.migrate, dev_secret=dev)
            return _run(supervisor.run(sys.stdout))
        from server import app  # noqa: PLC0415 - keep `--help` and the supervisor light

        if args.command == "serve":
            _run(
                app.serve(
                    settings,
                    migrate_schema=args.migrate,
                    banner=sys.stdout,
                    worker_of=args.worker_of,
                    dev_secret=dev,
                    parent_pid=args.parent_pid,
                )
            )
        elif args.command == "migrate":
            from server.adapters.db.schema import run_migrations  # noqa: PLC0415

            revision = _run(run_migrations(settings.database_url))
            announce(f"database schema at revision {revision}", sys.stdout, revision=revision)
    except (SchemaOutOfDate, Unavailable) as exc:
        announce(f"textlens-server: {exc}", sys.stderr, level="error")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
