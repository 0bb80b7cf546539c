"""Where the server's time goes: py-spy samples (--profile), folded into a short summary.

py-spy samples native frames too (--native), so the time spent in system calls and in
gRPC's C core shows as such instead of as the Python frame that called into them. To do
that it pauses the process for each sample, so the profiled run is slower than the others.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

# Buckets by the source file of a frame, first match wins, from the innermost frame out.
BUCKETS = [
    ("system calls (libc: write, sendmsg, futex, ...)", r"\(libc\.so"),
    ("analysis (vaderSentiment, server.domain.analyzers)", r"vaderSentiment|domain/analyzers"),
    ("database (sqlalchemy, asyncpg)", r"sqlalchemy|asyncpg"),
    ("protobuf encode/decode (codec)", r"transport/codec|google/protobuf"),
    ("grpc (cygrpc, grpc.aio)", r"grpc/|cygrpc|grpc_"),
    ("logging (structlog)", r"structlog|logging/"),
    ("event loop (asyncio, uvloop)", r"asyncio/|uvloop"),
    ("CPython runtime (libpython)", r"libpython"),
]


def start(py_spy: Path, pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    argv = [str(py_spy), "record", "--pid", str(pid), "--subprocesses", "--rate", "200"]
    argv += ["--duration", str(max(1, round(seconds))), "--format", "raw", "--native"]
    argv += ["--output", str(output)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# Samples of threads blocked waiting, not running: gRPC's poller and the event loop in
# epoll, the stderr relay in read(). py-spy records them when it samples native frames.
_WAITING = re.compile(r"^(epoll_p?wait|read) \(libc")
_WAITERS = re.compile(r"cygrpc|asyncio/runners|native_log")


def _waiting(frames: list[str]) -> bool:
    return (
        bool(frames)
        and bool(_WAITING.match(frames[-1]))
        and any(_WAITERS.search(frame) for frame in frames)
    )


def _frames(stack: str) -> list[str]:
    return [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]


def summarize(raw: Path, top: int = 15) -> dict[str, object]:
    """Share of the busy samples (threads waiting in epoll or a blocking read left out) per
    bucket (by innermost matching frame) and per innermost function."""
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if _waiting(frames):
            continue
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
