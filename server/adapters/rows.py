"""Sentiment and emotion results as rows of plain numbers and strings, for pickling.

Pickle handles tuples, numbers and strings in C, while each of a result's own objects (the
result, its analyzer, each of its hundreds of sentences or its 27 categories, their enums)
takes a Python call to pickle and another to unpickle. Results cross into memory as rows
where they are pickled in bulk: the in-process cache's entries, and long texts' results
coming back from the analysis process. A row's sentences are columns (texts, offsets,
scores, labels), and opening one makes each sentence once, in C.

A sentiment row can leave its sentences' texts out when they are slices of the analysed
text (they always are, short of a future analyzer that rewrites them): it keeps their
lengths, and they are cut from the text again when the row is opened, so that the row
holds none of the text.
"""

from __future__ import annotations

from typing import Any

from server.domain.analyzers.base import (
    AnalysisResult,
    AnalyzerInfo,
    Emotion,
    EmotionResult,
    SentimentLabel,
    SentimentResult,
    make_category,
    make_sentence,
)
from server.domain.model import AnalysisType

Row = tuple[Any, ...]

_SENTIMENT, _EMOTION = int(AnalysisType.SENTIMENT), int(AnalysisType.EMOTION)
_LABELS = {int(label): label for label in SentimentLabel}
_EMOTIONS = {int(emotion): emotion for emotion in Emotion}
# The analyzers that rows name: a few, made once each and shared by every result opened.
_ANALYZERS: dict[tuple[str, str, str, str], AnalyzerInfo] = {}


def is_row(value: object) -> bool:
    """Whether an unpickled value is a row: a tuple that starts with its analysis type's
    number (anything else, a result or a tuple holding one, was pickled as it is)."""
    return type(value) is tuple and bool(value) and type(value[0]) is int


def to_row(result: AnalysisResult, ms: float, *, text: str | None = None) -> Row | None:
    """The row of a sentiment or emotion result that took ``ms`` to analyse; None for
    other results. With ``text``, the text analysed, a sentiment row keeps its sentences'
    lengths instead of their texts, or is None if they are not slices of it."""
    if isinstance(result, SentimentResult):
        return _sentiment_row(result, ms, text)
    if isinstance(result, EmotionResult):
        return _emotion_row(result, ms)
    return None


def from_row(row: Row, text: str | None = None) -> tuple[AnalysisType, AnalysisResult, float]:
    """The analysis type, result and analysis time of a row; ``text`` as given to
    ``to_row``."""
    if row[0] == _SENTIMENT:
        return AnalysisType.SENTIMENT, _sentiment(row, text), row[1]
    return AnalysisType.EMOTION, _emotion(row), row[1]


def _analyzer_fields(info: AnalyzerInfo) -> tuple[str, str, str, str]:
    return info.name, info.version, info.lexicon, info.model_sha256


def _analyzer(fields: tuple[str, str, str, str]) -> AnalyzerInfo:
    info = _ANALYZERS.get(fields)
    if info is None:
        info = _ANALYZERS[fields] = AnalyzerInfo(*fields)
    return info


def _sentiment_row(result: SentimentResult, ms: float, text: str | None) -> Row | None:
    texts, offsets, scores, labels = tuple(zip(*result.sentences, strict=True)) or ((),) * 4
    strings: tuple[str, ...] | tuple[int, ...] = texts
    if text is not None:
        if not all(text[s.offset : s.offset + len(s.text)] == s.text for s in result.sentences):
            return None
        strings = tuple(map(len, texts))
    return (
        _SENTIMENT,
        ms,
        result.score,
        int(result.label),
        result.magnitude,
        result.positive,
        result.negative,
        result.neutral,
        _analyzer_fields(result.analyzer),
        strings,
        offsets,
        scores,
        tuple(map(int, labels)),
    )


def _sentiment(row: Row, text: str | None) -> SentimentResult:
    _, _, score, label, magnitude, positive, negative, neutral, analyzer = row[:9]
    texts, offsets, scores, labels = row[9:]
    if text is not None:  # the sentences' lengths: cut them from the text
        texts = [text[offset : offset + n] for offset, n in zip(offsets, texts, strict=True)]
    sentences = zip(texts, offsets, scores, map(_LABELS.__getitem__, labels), strict=True)
    return SentimentResult(
        score,
        _LABELS[label],
        magnitude,
        positive,
        negative,
        neutral,
        tuple(map(make_sentence, sentences)),
        _analyzer(analyzer),
    )


def _emotion_row(result: EmotionResult, ms: float) -> Row:
    names, scores = tuple(zip(*result.categories, strict=True)) or ((), ())
    return (
        _EMOTION,
        ms,
        result.anger,
        result.anticipation,
        result.disgust,
        result.fear,
        result.joy,
        result.sadness,
        result.surprise,
        result.trust,
        int(result.dominant),
        result.matched_word_count,
        _analyzer_fields(result.analyzer),
        result.neutral,
        names,
        scores,
    )


def _emotion(row: Row) -> EmotionResult:
    _, _, anger, anticipation, disgust, fear, joy, sadness, surprise, trust = row[:10]
    dominant, matched, analyzer, neutral, names, scores = row[10:]
    categories = tuple(map(make_category, zip(names, scores, strict=True)))
    return EmotionResult(  # in the order of its fields
        anger,
        anticipation,
        disgust,
        fear,
        joy,
        sadness,
        surprise,
        trust,
        _EMOTIONS[dominant],
        matched,
        _analyzer(analyzer),
        neutral,
        categories,
    )
