"""`make bench`: TextLens against the real PostgreSQL, beside its ceiling and a FastAPI peer.

    .venv/bin/python bench/run.py [--quick] [--profile] [--fail-on-regression]

Runs, on short (~20 words) and long (~2,000 characters) sentiment texts: the analyzer
micro-benchmark (bench/analyzers.py); the event loop hold of one call with adversarial
texts (bench/loop_hold.py); the ceiling (the analyzer on every core, in-process);
a real server with its result cache off, loaded with unary CreateAnalysis from h2load at
each concurrency, each point beside the same point of the FastAPI peer (bench/peers/); a
bare grpc.aio echo server (bench/echo_server.py) for the framework's own cost per call;
then a real server as configured by default on a fresh database: unary CreateAnalysis
(one text repeated, so the cache serves it), Health/Check, and AnalyzeStream and
CreateBatch from a gRPC client, for distinct texts and for one text repeated.
Prints every figure with its ratio to the ceiling, writes bench/results/<time>.json and
latest.json, and flags figures more than 20% worse than the previous run with the same
settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ceiling
import h2load
import loop_hold
import psutil
import report
from database import Postgres
from phases import Harness
from printing import print_run

BENCH = Path(__file__).resolve().parent
# Runs compare figure by figure only when these settings are the same.
COMPARABLE = (
    "quick", "duration", "warm_up", "concurrency", "stream_seconds", "streams", "batch_texts",
    "long_batch_texts", "batch_timeout", "workers",
)  # fmt: skip


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a ~2 minute smoke run")
    parser.add_argument("--duration", type=float, help="seconds per h2load point (10; quick 3)")
    parser.add_argument("--warm-up", type=float, help="h2load warm-up seconds (2; quick 1)")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[16, 64], help="h2load points (16 64)"
    )
    parser.add_argument("--stream-seconds", type=float, help="per stream run (8; quick 3)")
    parser.add_argument(
        "--streams", type=int, default=8, help="concurrent AnalyzeStream calls, one connection each"
    )
    parser.add_argument("--batch-texts", type=int, help="short texts per batch run (100000)")
    parser.add_argument("--long-batch-texts", type=int, help="long texts per batch run (5000)")
    parser.add_argument(
        "--batch-timeout",
        type=float,
        help="seconds allowed a short batch run, half that a long one (100; quick 30)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("TEXTLENS_WORKERS", "0")) or os.cpu_count() or 1,
        help="TEXTLENS_WORKERS for the server and --workers for the peer (default: cores)",
    )
    parser.add_argument("--no-server", action="store_true", help="skip TextLens itself")
    parser.add_argument("--no-peer", action="store_true", help="skip the FastAPI peer")
    parser.add_argument("--profile", action="store_true", help="py-spy the unary short run")
    parser.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when a figure regressed"
    )
    parser.add_argument(
        "--results", type=Path, default=BENCH / "results", help="where the JSON files go"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "duration": 3 if quick else 10,
        "warm_up": 1 if quick else 2,
        "stream_seconds": 3 if quick else 8,
        "batch_texts": 10_000 if quick else 100_000,
        "long_batch_texts": 1_000 if quick else 5_000,
        "batch_timeout": 30 if quick else 100,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def machine(pg: Postgres) -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "load_average_start": list(os.getloadavg()),
        # Anything above a few percent here is another tenant of the machine at work.
        "cpu_busy_percent_before_start": psutil.cpu_percent(interval=1.0),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": asyncio.run(pg.version()),
        "h2load": h2load.available(),
    }


def analyzer_figures() -> dict[str, Any]:
    import analyzers  # noqa: PLC0415 - prints its table when run

    with contextlib.redirect_stdout(sys.stderr):
        return analyzers.main()


def flatten(prefix: str, value: Any) -> Iterator[tuple[str, float]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from flatten(f"{prefix}.{key}" if prefix else str(key), inner)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield prefix, float(value)


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    mode = "quick" if args.quick else "full"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.results.mkdir(parents=True, exist_ok=True)
    pg = Postgres()
    started = time.monotonic()
    document: dict[str, Any] = {"mode": mode, "timestamp": stamp, "command": sys.argv}
    document["settings"] = {name: getattr(args, name) for name in COMPARABLE}
    document["machine"] = machine(pg)
    document["config"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    print(f"TextLens benchmark ({mode}), {stamp}", flush=True)

    print("analyzer micro-benchmark (bench/analyzers.py) ...", flush=True)
    document["analyzers"] = analyzer_figures()
    print("event loop hold with adversarial texts (bench/loop_hold.py) ...", flush=True)
    document["loop_hold"] = loop_hold.run(pg, stamp, rounds=3 if args.quick else 5)
    print(f"ceiling: the analyzer on {os.cpu_count()} spawn processes ...", flush=True)
    ceilings = ceiling.measure(
        ("short", "long"), os.cpu_count() or 1, duration=2.0 if args.quick else 4.0
    )
    harness = Harness(args, pg, stamp, {k: c.texts_per_second for k, c in ceilings.items()})
    document["ceiling"] = {k: vars(c) for k, c in ceilings.items()}
    harness.run()
    document.update(harness.document())
    document["machine"]["load_average_end"] = list(os.getloadavg())
    document["seconds"] = time.monotonic() - started

    figures = dict(flatten("", harness.figures()))
    figures.update(flatten("ceiling", {k: {"texts_per_second": c.texts_per_second}
                                       for k, c in ceilings.items()}))  # fmt: skip
    figures.update(
        (f"analyzers.{name}.{key}", float(value))
        for name, values in document["analyzers"].items()
        for key, value in values.items()
        if key.endswith("_per_second")
    )
    document["figures"] = figures
    previous = report.previous_result(args.results, document["settings"])
    regressions: list[dict[str, Any]] = []
    if previous is not None:
        regressions = report.compare(json.loads(previous.read_text())["figures"], figures)
    document["compared_with"] = str(previous) if previous else None
    document["regressions"] = regressions
    # The hold is a bound to meet, not a figure to compare: a few milliseconds swing by
    # more than the regression threshold from one run to the next.
    held = {"loop_hold.max_hold_ms": document["loop_hold"]["max_hold_ms"]}
    document["targets"] = [
        {"target": t, "met": met, "value": v} for t, met, v in report.targets({**figures, **held})
    ]
    path = report.write(args.results, stamp, document)
    print_run(document, ceilings)
    loop_hold.print_table(document["loop_hold"])
    print(f"\nresults: {path} (and {args.results / 'latest.json'})")
    print(f"took {document['seconds']:.0f} s")
    if previous is None:
        print("no previous result with the same settings to compare with")
    else:
        print(f"compared with {previous}: {len(regressions)} figure(s) more than 20% worse")
    for worse in regressions:
        print(
            f"REGRESSION {worse['figure']}: {worse['before']:.4g} -> {worse['now']:.4g} "
            f"({worse['change']:+.0%})"
        )
    if any(w["figure"].startswith(("ceiling.", "analyzers.")) for w in regressions):
        print(
            "note: the in-process figures (ceiling, analyzers) fell too, so the machine itself "
            "was slower this time; the ratios to the ceiling compare fairer"
        )
    return 1 if regressions and args.fail_on_regression else 0


if __name__ == "__main__":
    sys.exit(main())
