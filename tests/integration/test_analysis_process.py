"""Long texts are analysed in a separate, lower-priority process, which is replaced when it
dies: the same results as in the server's own process, and no call left hanging."""

from __future__ import annotations

import asyncio
import os

import psutil
import structlog.testing
from helpers.fakes import ProcessKillingQualityAnalyzer

from server.adapters.analysis_process import NICENESS, AnalysisProcess
from server.domain.analyzers import default_analyzers
from server.domain.model import AnalysisStatus, AnalysisType
from server.service.analyst import INLINE_CHARS, Analyst, Job

LONG = "The hotel was lovely and the staff were kind, but the breakfast was cold. " * 30


def children() -> set[psutil.Process]:
    return set(psutil.Process().children())


async def test_long_texts_get_the_results_the_server_process_would_give() -> None:
    analyzers = default_analyzers()
    elsewhere = AnalysisProcess(analyzers)
    try:
        for kind, analyzer in analyzers.items():
            result, elapsed_ms = await elsewhere.analyze(analyzer, LONG)
            assert result == analyzer.analyze(LONG), kind
            assert elapsed_ms > 0
    finally:
        elsewhere.close()


async def test_the_analysis_process_runs_at_a_lower_priority_and_stops_with_the_server() -> None:
    before = children()
    analyzers = default_analyzers()
    elsewhere = AnalysisProcess(analyzers)
    await elsewhere.analyze(analyzers[AnalysisType.SENTIMENT], LONG)
    (child,) = children() - before
    assert child.nice() == os.getpriority(os.PRIO_PROCESS, 0) + NICENESS
    elsewhere.close()
    await asyncio.to_thread(child.wait, 10)


async def test_a_killed_analysis_process_is_replaced_and_the_text_analysed_again() -> None:
    before = children()
    analyzers = default_analyzers()
    elsewhere = AnalysisProcess(analyzers)
    sentiment = analyzers[AnalysisType.SENTIMENT]
    try:
        await elsewhere.analyze(sentiment, LONG)
        (first,) = children() - before
        first.kill()
        await asyncio.to_thread(first.wait, 10)
        with structlog.testing.capture_logs() as logs:
            result, _ = await elsewhere.analyze(sentiment, LONG)
        assert result == sentiment.analyze(LONG)
        assert [line["event"] for line in logs] == ["analysis process died; starting another"]
        (second,) = children() - before - {first}
        assert second.pid != first.pid
    finally:
        elsewhere.close()


async def test_a_text_that_kills_the_process_fails_alone_and_others_still_succeed() -> None:
    analyzers = {AnalysisType.QUALITY: ProcessKillingQualityAnalyzer()}
    analyst = Analyst(analyzers, long_texts=AnalysisProcess(analyzers))
    lethal = "die " * INLINE_CHARS
    try:
        with structlog.testing.capture_logs() as logs:
            (failed,) = await analyst.run("acme", [Job(lethal, AnalysisType.QUALITY)])
        assert failed.status == AnalysisStatus.FAILED
        assert [line["event"] for line in logs].count("analyzer failed") == 1
        assert lethal not in repr(logs)
        # The next texts, short and long, are analysed as usual, in a new process.
        analyses = await analyst.run(
            "acme", [Job(LONG, AnalysisType.QUALITY), Job("Short one.", AnalysisType.QUALITY)]
        )
        assert [a.status for a in analyses] == [AnalysisStatus.COMPLETED] * 2
    finally:
        analyst.close()
