"""The ``textlens`` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import grpc

from textlens import _health

DEFAULT_TARGET = "127.0.0.1:50051"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textlens", description="Call a TextLens server.")
    parser.add_argument(
        "--target",
        default=os.environ.get("TEXTLENS_TARGET", DEFAULT_TARGET),
        help="host:port of the server (env TEXTLENS_TARGET)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    commands = parser.add_subparsers(dest="command", required=True)
    health = commands.add_parser("health", help="check the server's health")
    health.add_argument("--service", default="", help="a service name; empty for the server")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with grpc.insecure_channel(args.target) as channel:
        check = channel.unary_unary(
            _health.CHECK_METHOD,
            request_serializer=_health.HealthCheckRequest.SerializeToString,
            response_deserializer=_health.HealthCheckResponse.FromString,
        )
        try:
            response = check(_health.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.RpcError as exc:
            print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 3
    status = _health.status_name(response)
    print(status)
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
