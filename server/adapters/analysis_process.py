"""Long texts analysed in a process of its own, at a lower CPU priority.

A long text costs milliseconds to tens of milliseconds of CPU. In a thread of the server
process it holds the GIL that every other call needs, so one tenant sending long texts
(within its rate limit) would slow every other tenant's calls. While other tenants are
making calls, long texts are analysed here instead (server.service.analyst): in a
separate interpreter, with its own GIL, niced so that the kernel runs the serving
processes first when the cores are busy, so heavy texts use the CPU the calls leave. A
tenant alone keeps the thread, which costs less per text (no hand-off between processes).

The process is a fresh interpreter (spawn, never a fork of a process that has started
gRPC), started at the first long text. It loads each analyzer the first time it gets a
text for it. If it dies (killed, out of memory), the texts it held are tried once more in
a new one; a text that kills that one too is a failed analysis.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import signal
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import structlog

from server.adapters import rows
from server.domain.analyzers.base import AnalysisResult, Analyzer
from server.domain.model import AnalysisType
from server.service.analyst import timed

log = structlog.get_logger("textlens.analysis")

# Added to the process's nice value: the kernel then gives it about a tenth of a core's
# time against a serving process that wants the core (CFS weights), all of it when idle.
NICENESS = 10

# In the analysis process: each analyzer as pickled by the server, and once loaded.
_pickled: dict[AnalysisType, bytes] = {}
_loaded: dict[AnalysisType, Analyzer] = {}


def _prepare(pickled: Mapping[AnalysisType, bytes], niceness: int) -> None:
    # Ctrl-C reaches the whole process group; the server stops this process itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(niceness)
    _pickled.update(pickled)


def _analyze(analysis_type: AnalysisType, text: str) -> tuple[AnalysisResult, float] | rows.Row:
    """The result and its time, sent back as a row when it has one (server.adapters.rows:
    a long text's result is hundreds of objects, each a Python call to unpickle)."""
    analyzer = _loaded.get(analysis_type)
    if analyzer is None:
        analyzer = _loaded[analysis_type] = pickle.loads(_pickled[analysis_type])  # noqa: S301 - our own
    return sent(*timed(analyzer, text), text)


def sent(result: AnalysisResult, ms: float, text: str) -> tuple[AnalysisResult, float] | rows.Row:
    """What the analysis process sends back for a text's result."""
    return rows.to_row(result, ms, text=text) or (result, ms)


def received(
    value: tuple[AnalysisResult, float] | rows.Row, text: str
) -> tuple[AnalysisResult, float]:
    """The result and its time, from what the analysis process sent back for ``text``."""
    if rows.is_row(value):
        _, result, ms = rows.from_row(value, text)
        return result, ms
    return value


class AnalysisProcess:
    """Analyses long texts in a child process (see the module's docstring)."""

    def __init__(self, analyzers: Mapping[AnalysisType, Analyzer], *, niceness: int = NICENESS):
        # Analyzers pickle by reference (their class and model file), so this is small.
        self._pickled = {kind: pickle.dumps(a) for kind, a in analyzers.items()}
        self._niceness = niceness
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_prepare,
                initargs=(self._pickled, self._niceness),
            )
        return self._pool

    async def analyze(self, analyzer: Analyzer, text: str) -> tuple[AnalysisResult, float]:
        try:
            return await self._once(analyzer.analysis_type, text)
        except BrokenProcessPool:  # the process died with the text in hand: once more
            return await self._once(analyzer.analysis_type, text)

    async def _once(self, kind: AnalysisType, text: str) -> tuple[AnalysisResult, float]:
        pool = self._executor()
        try:
            value = await asyncio.get_running_loop().run_in_executor(pool, _analyze, kind, text)
        except BrokenProcessPool:
            if self._pool is pool:  # the first of its texts to see it gone replaces it
                log.warning("analysis process died; starting another")
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        return received(value, text)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
