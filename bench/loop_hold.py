"""How long one call holds the server's event loop, for the adversarial texts.

    .venv/bin/python bench/loop_hold.py [--rounds N]

A real server runs in this process on a fresh PostgreSQL database, beside a heartbeat
task that asks to wake every millisecond. While the loop is held, nothing else of the
process (no other tenant's call) runs: the CPU time the loop's thread spent between two
beats is that hold. How late the beat woke (wall time) is printed too; on a busy machine
it also counts time the operating system gave to other processes. A client in another
process sends CreateAnalysis calls one at a time, each text kind with each analysis
type, and reports when each call started and ended; the worst figures within a call's
time are that call's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import secrets
import subprocess
import sys
import time
from typing import Any

import structlog

SCRIPT = os.path.abspath(__file__)
BENCH = os.path.dirname(SCRIPT)
KINDS = ("10,000 emoji", "10,000 combining marks", "10,000 'a'", "long prose")
TYPES = {"sentiment": 1, "quality": 2, "emotion": 3}
CHARS = 10_000
BEAT_SECONDS = 0.001
# A heartbeat woken this late shows a hold the target does not allow.
TARGET_MS = 20.0


def texts(round_number: int) -> dict[str, str]:
    """The adversarial texts, a little different each round so that no call is a cache hit."""
    sys.path.insert(0, BENCH)
    from analyzers import emoji, prose  # noqa: PLC0415

    size = CHARS - round_number
    return {
        "10,000 emoji": emoji(size, seed=round_number),
        "10,000 combining marks": "a" + "\u0301" * (size - 1),
        "10,000 'a'": "a" * size,
        "long prose": prose(size, seed=round_number),
    }


def client(target: str, token: str, rounds: int) -> None:
    """Runs in its own process: the calls, one at a time, and a JSON line for each."""
    import grpc  # noqa: PLC0415

    from textlens.v1 import analysis_service_pb2, analysis_service_pb2_grpc  # noqa: PLC0415

    metadata = (("authorization", f"Bearer {token}"),)
    order = [(kind, name) for kind in KINDS for name in TYPES]
    with grpc.insecure_channel(target) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        for round_number in range(rounds):
            by_kind = texts(round_number)
            random.Random(round_number).shuffle(order)
            for kind, name in order:
                request = analysis_service_pb2.CreateAnalysisRequest(
                    text=by_kind[kind], analysis_type=TYPES[name], language_code="en"
                )
                started = time.time()
                try:
                    stub.CreateAnalysis(request, metadata=metadata, timeout=60)
                    code = "OK"
                except grpc.RpcError as error:
                    code = error.code().name
                line = {"kind": kind, "type": name, "start": started, "end": time.time()}
                print(json.dumps({**line, "code": code}), flush=True)


Beat = tuple[float, float, float]  # when, CPU time held, wall lag (seconds)


async def heartbeat(beats: list[Beat], stop: asyncio.Event) -> None:
    while not stop.is_set():
        wall, cpu = time.perf_counter(), time.thread_time()
        await asyncio.sleep(BEAT_SECONDS)
        held = time.thread_time() - cpu
        beats.append((time.time(), held, time.perf_counter() - wall - BEAT_SECONDS))


async def measure(database_url: str, rounds: int) -> dict[str, Any]:
    from server.app import Application  # noqa: PLC0415
    from server.config import Settings  # noqa: PLC0415

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    settings = Settings(
        host="127.0.0.1",
        port=0,
        database_url=database_url,
        jwt_secret=secrets.token_hex(32),
        rate_limit="1000000/minute",
        log_level="WARNING",
    )
    app = Application(settings, migrate_schema=True)
    await app.start()
    beats: list[Beat] = []
    stop = asyncio.Event()
    beat = asyncio.create_task(heartbeat(beats, stop))
    try:
        await asyncio.sleep(0.5)
        idle = (max(b[1] for b in beats), max(b[2] for b in beats))
        beats.clear()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            SCRIPT,
            "--client",
            f"127.0.0.1:{app.port}",
            app.token(subject="loop-hold"),
            "--rounds",
            str(rounds),
            stdout=subprocess.PIPE,
        )
        output, _ = await process.communicate()
    finally:
        stop.set()
        await beat
        await app.stop(0)
    calls = [json.loads(line) for line in output.decode().splitlines()]
    held: dict[str, dict[str, float]] = {}
    lag: dict[str, dict[str, float]] = {}
    errors: dict[str, int] = {}
    for call in calls:
        if call["code"] != "OK":
            errors[call["code"]] = errors.get(call["code"], 0) + 1
        during = [b for b in beats if call["start"] <= b[0] <= call["end"] + 0.01]
        for figures, index in ((held, 1), (lag, 2)):
            worst = max((b[index] * 1000 for b in during), default=0.0)
            row = figures.setdefault(call["kind"], {})
            row[call["type"]] = max(row.get(call["type"], 0.0), worst)
    return {
        "calls": len(calls),
        "rounds": rounds,
        "idle_hold_ms": idle[0] * 1000,
        "idle_lag_ms": idle[1] * 1000,
        "held_ms": held,
        "lag_ms": lag,
        "max_hold_ms": max(ms for row in held.values() for ms in row.values()),
        "max_lag_ms": max(ms for row in lag.values() for ms in row.values()),
        "target_ms": TARGET_MS,
        "errors": errors,
    }


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\nevent loop hold within one CreateAnalysis call, worst of {result['rounds']} rounds, "
        f"ms: loop-thread CPU held / heartbeat wall lag (idle: {result['idle_hold_ms']:.1f} / "
        f"{result['idle_lag_ms']:.1f})"
    )
    print(f"  {'text':24}" + "".join(f"{name:>16}" for name in TYPES))
    for kind in KINDS:
        held, lag = result["held_ms"].get(kind, {}), result["lag_ms"].get(kind, {})
        cells = [f"{held.get(n, float('nan')):.1f} / {lag.get(n, float('nan')):.1f}" for n in TYPES]
        print(f"  {kind:24}" + "".join(f"{cell:>16}" for cell in cells))
    met = "met" if result["max_hold_ms"] <= result["target_ms"] else "NOT MET"
    print(
        f"  worst hold {result['max_hold_ms']:.1f} ms (target <= {result['target_ms']:.0f} ms: "
        f"{met}), worst wall lag {result['max_lag_ms']:.1f} ms"
    )
    if result["errors"]:
        print(f"  errors: {result['errors']}")


def run(pg: Any, stamp: str, rounds: int) -> dict[str, Any]:
    """The phase as bench/run.py runs it: on a database of its own, dropped afterwards."""
    database = f"textlens_bench_{stamp.lower()}_loop"
    asyncio.run(pg.create(database))
    try:
        return asyncio.run(measure(pg.url(database), rounds))
    finally:
        asyncio.run(pg.drop(database))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--client", nargs=2, metavar=("TARGET", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(*args.client, args.rounds)
        return
    sys.path.insert(0, BENCH)
    from database import Postgres  # noqa: PLC0415

    print_table(run(Postgres(), time.strftime("%Y%m%dT%H%M%S"), args.rounds))


if __name__ == "__main__":
    main()
