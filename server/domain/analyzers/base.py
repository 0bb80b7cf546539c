"""The analyzer interface and the result values it returns, mirroring textlens.v1 messages.

Results turn into JSON-ready dicts (enums by name) and back with ``result_from_dict``, so
that stored results read back equal to what the analyzer returned.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple, Protocol, runtime_checkable

from server.domain.model import AnalysisType


class SentimentLabel(IntEnum):
    """Mirrors textlens.v1.SentimentLabel (same numbers)."""

    POSITIVE = 1
    NEGATIVE = 2
    NEUTRAL = 3


class QualityIssueKind(IntEnum):
    """Mirrors textlens.v1.QualityIssueKind (same numbers)."""

    LONG_SENTENCE = 1
    SHOUTING = 2
    REPEATED_CHARACTERS = 3
    REPEATED_WORDS = 4
    NO_SENTENCE_PUNCTUATION = 5
    TOO_SHORT = 6


class Emotion(IntEnum):
    """Mirrors textlens.v1.Emotion (same numbers); UNSPECIFIED when no emotion was found."""

    UNSPECIFIED = 0
    ANGER = 1
    ANTICIPATION = 2
    DISGUST = 3
    FEAR = 4
    JOY = 5
    SADNESS = 6
    SURPRISE = 7
    TRUST = 8
    NEUTRAL = 9


@dataclass(frozen=True, slots=True)
class AnalyzerInfo:
    name: str
    version: str
    lexicon: str
    model_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "lexicon": self.lexicon,
            "model_sha256": self.model_sha256,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalyzerInfo:
        return cls(
            str(data["name"]),
            str(data["version"]),
            str(data["lexicon"]),
            str(data.get("model_sha256", "")),
        )


class SentenceSentiment(NamedTuple):
    """One sentence (or piece of a long one) with its score.

    A named tuple rather than a dataclass, like EmotionCategory: a long text's result has
    hundreds of them, and a tuple is several times cheaper to make, to pickle (long texts'
    results come back from the analysis process) and to unpickle.
    """

    text: str
    offset: int
    score: float
    label: SentimentLabel

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SentenceSentiment:
        return cls(
            str(data["text"]),
            int(data["offset"]),
            float(data["score"]),
            SentimentLabel[data["label"]],
        )


# A SentenceSentiment from a tuple of its fields, made in C: the type's own _make without
# its Python call and length check, for results rebuilt by the hundred.
make_sentence = functools.partial(tuple.__new__, SentenceSentiment)


@dataclass(frozen=True, slots=True)
class SentimentResult:
    score: float
    label: SentimentLabel
    magnitude: float
    positive: float
    negative: float
    neutral: float
    sentences: tuple[SentenceSentiment, ...]
    analyzer: AnalyzerInfo

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "label": self.label.name,
            "magnitude": self.magnitude,
            "positive": self.positive,
            "negative": self.negative,
            "neutral": self.neutral,
            "sentences": [
                {"text": text, "offset": offset, "score": score, "label": label.name}
                for text, offset, score, label in self.sentences
            ],
            "analyzer": self.analyzer.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SentimentResult:
        return cls(
            score=float(data["score"]),
            label=SentimentLabel[data["label"]],
            magnitude=float(data["magnitude"]),
            positive=float(data["positive"]),
            negative=float(data["negative"]),
            neutral=float(data["neutral"]),
            sentences=tuple(SentenceSentiment.from_dict(s) for s in data["sentences"]),
            analyzer=AnalyzerInfo.from_dict(data["analyzer"]),
        )


class QualityIssue(NamedTuple):
    """One issue found in the text; a named tuple for the reasons SentenceSentiment is."""

    kind: QualityIssueKind
    message: str
    offset: int
    length: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityIssue:
        return cls(
            QualityIssueKind[data["kind"]],
            str(data["message"]),
            int(data["offset"]),
            int(data["length"]),
        )


@dataclass(frozen=True, slots=True)
class QualityResult:
    score: float
    flesch_reading_ease: float
    grade_level: float
    word_count: int
    sentence_count: int
    syllable_count: int
    lexical_diversity: float
    issues: tuple[QualityIssue, ...]
    analyzer: AnalyzerInfo

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "flesch_reading_ease": self.flesch_reading_ease,
            "grade_level": self.grade_level,
            "word_count": self.word_count,
            "sentence_count": self.sentence_count,
            "syllable_count": self.syllable_count,
            "lexical_diversity": self.lexical_diversity,
            "issues": [
                {"kind": kind.name, "message": message, "offset": offset, "length": length}
                for kind, message, offset, length in self.issues
            ],
            "analyzer": self.analyzer.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityResult:
        return cls(
            score=float(data["score"]),
            flesch_reading_ease=float(data["flesch_reading_ease"]),
            grade_level=float(data["grade_level"]),
            word_count=int(data["word_count"]),
            sentence_count=int(data["sentence_count"]),
            syllable_count=int(data["syllable_count"]),
            lexical_diversity=float(data["lexical_diversity"]),
            issues=tuple(QualityIssue.from_dict(issue) for issue in data["issues"]),
            analyzer=AnalyzerInfo.from_dict(data["analyzer"]),
        )


# The eight emotions in enum order, which is also the order of the result's score fields.
EMOTIONS: tuple[Emotion, ...] = tuple(
    e for e in Emotion if e not in (Emotion.UNSPECIFIED, Emotion.NEUTRAL)
)


class EmotionCategory(NamedTuple):
    """One fine-grained category of the emotion model, with its probability.

    A named tuple rather than a dataclass: every result carries 27 of them, and a tuple is
    several times cheaper to make.
    """

    name: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": self.score}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmotionCategory:
        return cls(str(data["name"]), float(data["score"]))


# An EmotionCategory from a (name, score) pair, made in C, as make_sentence.
make_category = functools.partial(tuple.__new__, EmotionCategory)


@dataclass(frozen=True, slots=True)
class EmotionResult:
    anger: float
    anticipation: float
    disgust: float
    fear: float
    joy: float
    sadness: float
    surprise: float
    trust: float
    dominant: Emotion
    matched_word_count: int
    analyzer: AnalyzerInfo
    neutral: float = 0.0
    categories: tuple[EmotionCategory, ...] = ()

    def scores(self) -> dict[Emotion, float]:
        """Each of the eight emotions with its score, in enum order."""
        return {emotion: getattr(self, emotion.name.lower()) for emotion in EMOTIONS}

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {e.name.lower(): s for e, s in self.scores().items()}
        data["dominant"] = self.dominant.name
        data["matched_word_count"] = self.matched_word_count
        data["analyzer"] = self.analyzer.to_dict()
        data["neutral"] = self.neutral
        data["categories"] = [category.to_dict() for category in self.categories]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmotionResult:
        return cls(
            **{e.name.lower(): float(data[e.name.lower()]) for e in EMOTIONS},
            dominant=Emotion[data["dominant"]],
            matched_word_count=int(data["matched_word_count"]),
            analyzer=AnalyzerInfo.from_dict(data["analyzer"]),
            neutral=float(data.get("neutral", 0.0)),
            categories=tuple(EmotionCategory.from_dict(c) for c in data.get("categories", ())),
        )


AnalysisResult = SentimentResult | QualityResult | EmotionResult

_RESULT_TYPES: dict[AnalysisType, type[SentimentResult | QualityResult | EmotionResult]] = {
    AnalysisType.SENTIMENT: SentimentResult,
    AnalysisType.QUALITY: QualityResult,
    AnalysisType.EMOTION: EmotionResult,
}


def result_from_dict(analysis_type: AnalysisType, data: Mapping[str, Any]) -> AnalysisResult:
    """Rebuild the result that ``to_dict`` produced for an analysis of this type."""
    return _RESULT_TYPES[AnalysisType(analysis_type)].from_dict(data)


@runtime_checkable
class Analyzer(Protocol):
    """Analyses one text of one kind; created once, then shared across threads.

    Construction loads lexicons (paid once); ``analyze`` is pure, thread-safe and linear in
    the length of the text. ``text`` arrives trimmed and validated, but ``analyze`` must not
    raise or slow down super-linearly on any ``str``. Instances pickle cheaply, so they can be
    sent to a process pool.
    """

    @property
    def analysis_type(self) -> AnalysisType: ...

    @property
    def info(self) -> AnalyzerInfo: ...

    def analyze(self, text: str) -> AnalysisResult: ...
