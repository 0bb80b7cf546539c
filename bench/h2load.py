"""Load from h2load (Debian's nghttp2-client): one fixed request body, timed, per-request log.

h2load reads the latency of every measured request into ``--log-file`` (microseconds until
the end of the response), from which p50 and p99 are taken. It cannot read gRPC trailers:
a gRPC error is still an HTTP 200 to it, so callers verify grpc-status separately.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Point:
    """One h2load run at one concurrency."""

    concurrency: int
    connections: int
    streams_per_connection: int
    duration: float
    requests: int
    succeeded: int
    failed: int
    errored: int
    timeout: int
    non_2xx: int
    redirects: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    client_cpu_seconds: float

    @property
    def errors(self) -> int:
        """h2load's ``failed`` (non-2xx/3xx answers and, within them, ``errored`` streams and
        ``timeout``s), and 3xx answers, which it counts as succeeded."""
        return self.failed + self.redirects


def available() -> str | None:
    return shutil.which("h2load")


def shape(concurrency: int, min_connections: int = 16, h1: bool = False) -> tuple[int, int]:
    """(connections, streams per connection) reaching ``concurrency``.

    HTTP/1.1 carries one request at a time per connection (h2load does not pipeline a
    request with a body), so there concurrency is all connections.
    """
    if h1:
        return concurrency, 1
    connections = min(concurrency, max(min_connections, 1))
    return connections, max(1, concurrency // connections)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _count(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    return int(match.group(1)) if match else 0


def run(
    url: str,
    body: Path,
    headers: list[str],
    *,
    concurrency: int,
    duration: float,
    warm_up: float,
    h1: bool = False,
) -> Point:
    connections, streams = shape(concurrency, h1=h1)
    with tempfile.TemporaryDirectory(prefix="h2load-") as tmp:
        log = Path(tmp) / "requests.log"
        argv = ["h2load", "-t", "1", "-c", str(connections), "-m", str(streams)]
        argv += ["-D", f"{duration:g}", f"--warm-up-time={warm_up:g}", "-d", str(body)]
        argv += [f"--log-file={log}"]
        for header in headers:
            argv += ["-H", header]
        if h1:
            argv.append("--h1")
        argv.append(url)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        limit = duration + warm_up + 60
        done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=limit)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise RuntimeError(f"h2load failed ({done.returncode}): {done.stderr or done.stdout}")
        latencies = sorted(
            int(fields[2]) / 1000
            for line in log.read_text().splitlines()
            if len(fields := line.split("\t")) >= 3
        )
    out = done.stdout
    succeeded = _count(r"(\d+) succeeded", out)
    statuses = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    _, redirects, client_errors, server_errors = (
        (int(n) for n in statuses.groups()) if statuses else (0, 0, 0, 0)
    )
    return Point(
        concurrency=concurrency,
        connections=connections,
        streams_per_connection=streams,
        duration=duration,
        requests=_count(r"requests: (\d+) total", out),
        succeeded=succeeded,
        failed=_count(r"(\d+) failed", out),
        errored=_count(r"(\d+) errored", out),
        timeout=_count(r"(\d+) timeout", out),
        non_2xx=redirects + client_errors + server_errors,
        redirects=redirects,
        requests_per_second=(succeeded - redirects) / duration,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        mean_ms=sum(latencies) / len(latencies) if latencies else float("nan"),
        max_ms=latencies[-1] if latencies else float("nan"),
        client_cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    )
