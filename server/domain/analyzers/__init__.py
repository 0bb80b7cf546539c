"""Sentiment, quality and emotion analyzers behind one small interface, in plain Python.

``default_analyzers()`` (or ``load_analyzers(overrides)``) builds one analyzer per analysis
type, loading the lexicons once; ``analyzer.analyze(text)`` returns a result dataclass.
"""

from server.domain.analyzers.base import (
    AnalysisResult,
    Analyzer,
    AnalyzerInfo,
    Emotion,
    EmotionCategory,
    EmotionResult,
    QualityIssue,
    QualityIssueKind,
    QualityResult,
    SentenceSentiment,
    SentimentLabel,
    SentimentResult,
    result_from_dict,
)
from server.domain.analyzers.emotion import EmotionAnalyzer
from server.domain.analyzers.quality import QualityAnalyzer
from server.domain.analyzers.registry import (
    AnalyzerConfigError,
    default_analyzers,
    load_analyzers,
)
from server.domain.analyzers.sentiment import SentimentAnalyzer

__all__ = [
    "AnalysisResult",
    "Analyzer",
    "AnalyzerConfigError",
    "AnalyzerInfo",
    "Emotion",
    "EmotionAnalyzer",
    "EmotionCategory",
    "EmotionResult",
    "QualityAnalyzer",
    "QualityIssue",
    "QualityIssueKind",
    "QualityResult",
    "SentenceSentiment",
    "SentimentAnalyzer",
    "SentimentLabel",
    "SentimentResult",
    "default_analyzers",
    "load_analyzers",
    "result_from_dict",
]
