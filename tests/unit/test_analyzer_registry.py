"""Analyzers are chosen per analysis type, and configuration can plug in another one."""

from __future__ import annotations

import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import server.domain.analyzers as analyzers_package
from server.domain.analyzers import (
    Analyzer,
    AnalyzerConfigError,
    AnalyzerInfo,
    EmotionAnalyzer,
    QualityAnalyzer,
    SentimentAnalyzer,
    SentimentLabel,
    SentimentResult,
    default_analyzers,
    load_analyzers,
)
from server.domain.analyzers.nrc_emotion import NrcEmotionAnalyzer
from server.domain.model import AnalysisType

ROOT = Path(__file__).resolve().parents[2]


class AlwaysPositive:
    """A stand-in for another sentiment model, configured by its dotted path."""

    analysis_type = AnalysisType.SENTIMENT
    info = AnalyzerInfo(name="always-positive", version="0", lexicon="none")

    def analyze(self, text: str) -> SentimentResult:
        return SentimentResult(1.0, SentimentLabel.POSITIVE, 1.0, 1.0, 0.0, 0.0, (), self.info)


class NotAnAnalyzer:
    analysis_type = AnalysisType.SENTIMENT


HERE = __name__


def test_the_defaults_cover_every_analysis_type_with_the_builtin_analyzers() -> None:
    analyzers = default_analyzers()
    assert set(analyzers) == set(AnalysisType)
    assert isinstance(analyzers[AnalysisType.SENTIMENT], SentimentAnalyzer)
    assert isinstance(analyzers[AnalysisType.QUALITY], QualityAnalyzer)
    assert isinstance(analyzers[AnalysisType.EMOTION], EmotionAnalyzer)
    for analysis_type, analyzer in analyzers.items():
        assert isinstance(analyzer, Analyzer)
        assert analyzer.analysis_type is analysis_type


def test_an_override_replaces_only_the_analyzer_of_its_type() -> None:
    analyzers = load_analyzers({"Sentiment": f"{HERE}:AlwaysPositive"})
    assert isinstance(analyzers[AnalysisType.SENTIMENT], AlwaysPositive)
    assert analyzers[AnalysisType.SENTIMENT].analyze("awful").label is SentimentLabel.POSITIVE
    assert isinstance(analyzers[AnalysisType.QUALITY], QualityAnalyzer)


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"mood": f"{HERE}:AlwaysPositive"}, "unknown analysis type 'mood'"),
        ({"sentiment": "AlwaysPositive"}, "not of the form"),
        ({"sentiment": "no_such_module_here:Thing"}, "cannot load"),
        ({"sentiment": f"{HERE}:Missing"}, "cannot load"),
        ({"sentiment": f"{HERE}:HERE"}, "is not a class"),
        ({"sentiment": f"{HERE}:NotAnAnalyzer"}, "lacks analysis_type, info or analyze"),
        ({"emotion": f"{HERE}:AlwaysPositive"}, "configured for EMOTION"),
    ],
)
def test_a_bad_override_fails_at_startup_saying_why(
    overrides: dict[str, str], complaint: str
) -> None:
    with pytest.raises(AnalyzerConfigError, match=complaint):
        load_analyzers(overrides)


def test_the_package_exports_exactly_its_public_names() -> None:
    exported = set(analyzers_package.__all__)
    assert exported == {name for name in dir(analyzers_package) if not name.startswith("_")} - {
        "base",
        "emotion",
        "emotion_model",
        "nrc",
        "nrc_emotion",
        "quality",
        "quality_issues",
        "registry",
        "sentiment",
        "text",
        "vader",
    }
    assert all(hasattr(analyzers_package, name) for name in exported)


def test_shared_analyzers_give_the_same_results_from_many_threads() -> None:
    analyzers = list(default_analyzers().values())
    texts = [f"Text {n}: I am {'not ' * (n % 2)}happy!!!! The the end 😍." for n in range(40)]
    jobs = [(analyzer, text) for analyzer in analyzers for text in texts]
    alone = [analyzer.analyze(text) for analyzer, text in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda job: job[0].analyze(job[1]), jobs))
    assert together == alone


def test_the_research_only_nrc_analyzer_is_opt_in_by_configuration() -> None:
    assert not isinstance(default_analyzers()[AnalysisType.EMOTION], NrcEmotionAnalyzer)
    chosen = load_analyzers({"emotion": "server.domain.analyzers.nrc_emotion:NrcEmotionAnalyzer"})
    assert isinstance(chosen[AnalysisType.EMOTION], NrcEmotionAnalyzer)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any(d.lower().startswith("nrclex") for d in project["dependencies"])
    assert project["optional-dependencies"]["nrc"] == ["nrclex>=4.1,<5"]
