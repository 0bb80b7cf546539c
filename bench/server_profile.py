"""Where the server's time goes: py-spy samples (--profile), folded into a short summary."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

# Buckets by the source file of a frame, first match wins, from the innermost frame out.
BUCKETS = [
    ("analysis (vaderSentiment, server.domain.analyzers)", r"vaderSentiment|domain/analyzers"),
    ("database (sqlalchemy, asyncpg)", r"sqlalchemy|asyncpg"),
    ("protobuf encode/decode (codec)", r"transport/codec|google/protobuf"),
    ("grpc (cygrpc, grpc.aio)", r"grpc/|cygrpc|grpc_"),
    ("logging (structlog)", r"structlog|logging/"),
    ("event loop (asyncio, uvloop)", r"asyncio/|uvloop"),
]


def start(py_spy: Path, pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    argv = [str(py_spy), "record", "--pid", str(pid), "--subprocesses", "--rate", "200"]
    argv += ["--duration", str(max(1, round(seconds))), "--format", "raw", "--nonblocking"]
    argv += ["--output", str(output)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _frames(stack: str) -> list[str]:
    return [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]


def summarize(raw: Path, top: int = 15) -> dict[str, object]:
    """Share of samples per bucket (by innermost matching frame) and per innermost function."""
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        total += count
        leaves[frames[-1] if frames else "(native)"] += count
        bucket = "other Python"
        for frame in reversed(frames):
            match = next((name for name, pattern in BUCKETS if re.search(pattern, frame)), None)
            if match:
                bucket = match
                break
        buckets[bucket] += count
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "buckets": {name: n / total for name, n in buckets.most_common()},
        "top_functions": {name: n / total for name, n in leaves.most_common(top)},
    }
