"""Result values mirror the contract's messages and come back unchanged from JSON."""

from __future__ import annotations

import dataclasses
import json
import pickle
from enum import IntEnum

import pytest

from server.domain.analyzers import (
    AnalysisResult,
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
from server.domain.model import AnalysisType
from textlens.v1 import analysis_pb2

INFO = AnalyzerInfo(name="test", version="0.1", lexicon="none 1")
SENTIMENT = SentimentResult(
    score=-0.123456789,
    label=SentimentLabel.NEGATIVE,
    magnitude=0.9,
    positive=0.1,
    negative=0.3,
    neutral=0.6,
    sentences=(
        SentenceSentiment("Bad.", 0, -0.5423, SentimentLabel.NEGATIVE),
        SentenceSentiment("Fine 😍", 5, 0.0, SentimentLabel.NEUTRAL),
    ),
    analyzer=INFO,
)
QUALITY = QualityResult(
    score=0.5,
    flesch_reading_ease=-12.75,
    grade_level=17.1,
    word_count=42,
    sentence_count=1,
    syllable_count=80,
    lexical_diversity=33.3,
    issues=(QualityIssue(QualityIssueKind.LONG_SENTENCE, "sentence of 42 words", 0, 200),),
    analyzer=INFO,
)
EMOTION = EmotionResult(
    anger=0.25,
    anticipation=0.0,
    disgust=0.0,
    fear=0.75,
    joy=0.0,
    sadness=0.0,
    surprise=0.0,
    trust=0.0,
    dominant=Emotion.FEAR,
    matched_word_count=3,
    analyzer=INFO,
)
EXAMPLES: list[tuple[AnalysisType, AnalysisResult]] = [
    (AnalysisType.SENTIMENT, SENTIMENT),
    (AnalysisType.QUALITY, QUALITY),
    (AnalysisType.EMOTION, EMOTION),
]


@pytest.mark.parametrize(("analysis_type", "result"), EXAMPLES)
def test_a_result_comes_back_equal_from_its_json(
    analysis_type: AnalysisType, result: AnalysisResult
) -> None:
    stored = json.dumps(result.to_dict())
    assert result_from_dict(analysis_type, json.loads(stored)) == result


def test_enums_are_stored_by_name() -> None:
    data = SENTIMENT.to_dict()
    assert data["label"] == "NEGATIVE" and data["sentences"][0]["label"] == "NEGATIVE"
    assert QUALITY.to_dict()["issues"][0]["kind"] == "LONG_SENTENCE"
    assert EMOTION.to_dict()["dominant"] == "FEAR"


@pytest.mark.parametrize(("_type", "result"), EXAMPLES)
def test_results_are_frozen_and_pickle(_type: AnalysisType, result: AnalysisResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.analyzer = INFO  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(result)) == result


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (SentimentResult, "SentimentResult"),
        (SentenceSentiment, "SentenceSentiment"),
        (QualityResult, "QualityResult"),
        (QualityIssue, "QualityIssue"),
        (EmotionResult, "EmotionResult"),
        (EmotionCategory, "EmotionCategory"),
        (AnalyzerInfo, "AnalyzerInfo"),
    ],
)
def test_each_result_has_exactly_the_fields_of_its_message(cls: type, message: str) -> None:
    descriptor = analysis_pb2.DESCRIPTOR.message_types_by_name[message]
    # The many small parts of a result are named tuples, the rest dataclasses.
    names = cls._fields if issubclass(cls, tuple) else [f.name for f in dataclasses.fields(cls)]
    assert set(names) == {f.name for f in descriptor.fields}


@pytest.mark.parametrize(
    ("enum", "contract", "prefix"),
    [
        (SentimentLabel, analysis_pb2.SentimentLabel, "SENTIMENT_LABEL_"),
        (QualityIssueKind, analysis_pb2.QualityIssueKind, "QUALITY_ISSUE_KIND_"),
        (Emotion, analysis_pb2.Emotion, "EMOTION_"),
    ],
)
def test_enums_have_the_contracts_names_and_numbers(
    enum: type[IntEnum], contract: analysis_pb2.Emotion, prefix: str
) -> None:
    ours = {member.name: member.value for member in enum}
    theirs = {
        name.removeprefix(prefix): contract.Value(name)  # type: ignore[attr-defined]
        for name in contract.keys()  # type: ignore[attr-defined]  # noqa: SIM118
    }
    if "UNSPECIFIED" not in ours:  # only Emotion gives "no value" a meaning of its own
        del theirs["UNSPECIFIED"]
    assert ours == theirs
