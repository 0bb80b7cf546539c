"""The ceiling: SentimentAnalyzer in-process on every core, no gRPC and no storage.

One ``spawn``ed process per core loads the analyzer once, then scores distinct texts of
the same kind as the service gets for ``duration`` seconds; the ceiling is the sum of the
processes' rates. Every process starts its timed loop only after all have loaded.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from typing import Any

_state: dict[str, Any] = {}


def _load(barrier: Any) -> None:
    from server.domain.analyzers import SentimentAnalyzer  # noqa: PLC0415 - in the child

    _state["analyzer"] = SentimentAnalyzer()
    _state["barrier"] = barrier


def _score(job: tuple[str, int, float]) -> tuple[int, float]:
    from workload import make_text  # noqa: PLC0415 - in the child

    length, worker, duration = job
    analyzer = _state["analyzer"]
    texts = [make_text(length, 10_000_000 * (worker + 1) + i) for i in range(2_000)]
    for text in texts[:20]:
        analyzer.analyze(text)
    _state["barrier"].wait()
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < duration:
        analyzer.analyze(texts[count % len(texts)])
        count += 1
    return count, elapsed


@dataclass(frozen=True)
class Ceiling:
    processes: int
    texts_per_second: float
    per_process: list[float]


def measure(lengths: tuple[str, ...], processes: int, duration: float) -> dict[str, Ceiling]:
    context = multiprocessing.get_context("spawn")
    results: dict[str, Ceiling] = {}
    barrier = context.Barrier(processes)
    with context.Pool(processes, initializer=_load, initargs=(barrier,)) as pool:
        for length in lengths:
            jobs = [(length, worker, duration) for worker in range(processes)]
            rates = [count / elapsed for count, elapsed in pool.map(_score, jobs, chunksize=1)]
            results[length] = Ceiling(processes, sum(rates), rates)
    return results
