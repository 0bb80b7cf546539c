"""Sentiment with VADER, scored sentence by sentence so that cost stays linear."""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cache
from importlib.metadata import version
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from server.domain.analyzers.base import (
    AnalyzerInfo,
    SentenceSentiment,
    SentimentLabel,
    SentimentResult,
)
from server.domain.analyzers.text import Span, sentence_spans, token_spans
from server.domain.model import AnalysisType

ANALYZER_VERSION = "1.0.0"
# VADER's cost per sentence grows with the square of its word count (each lexicon word
# rescans the whole sentence), flat up to about 60 words; longer runs are scored in pieces.
MAX_PIECE_WORDS = 60
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05


def label_for(score: float) -> SentimentLabel:
    """VADER's published thresholds."""
    if score >= POSITIVE_THRESHOLD:
        return SentimentLabel.POSITIVE
    if score <= NEGATIVE_THRESHOLD:
        return SentimentLabel.NEGATIVE
    return SentimentLabel.NEUTRAL


@cache
def _vader() -> SentimentIntensityAnalyzer:
    # Shared by every instance in the process: VADER keeps no state between calls.
    return SentimentIntensityAnalyzer()


@cache
def _emoji_weights() -> dict[str, int]:
    """How many words VADER sees for each emoji character it knows.

    VADER replaces each such character with its description ("smiling face with
    heart-eyes"), so one emoji weighs as many words as its description has.
    """
    return {ch: len(desc.split()) for ch, desc in _vader().emojis.items() if len(ch) == 1}


def _units(text: str, span: Span, weights: dict[str, int]) -> Iterator[tuple[int, int, int]]:
    """(start, end, words) of each word VADER will see; an emoji is a unit of its own."""
    for start, end in token_spans(text, span.start, span.end):
        token = text[start:end]
        if weights.keys().isdisjoint(token):
            yield start, end, 1
            continue
        run = start  # characters since the last emoji, which VADER keeps as one word
        for i, character in enumerate(token, start):
            weight = weights.get(character)
            if weight is not None:
                if run < i:
                    yield run, i, 1
                yield i, i + 1, weight
                run = i + 1
        if run < end:
            yield run, end, 1


def pieces(text: str, span: Span, max_words: int = MAX_PIECE_WORDS) -> list[Span]:
    """Cut a sentence into pieces of at most ``max_words`` words as VADER will count them."""
    weights = _emoji_weights()
    sentence = text[span.start : span.end]
    if weights.keys().isdisjoint(sentence) and len(sentence.split()) <= max_words:
        return [span]  # the common case, without a Python loop over the words
    result: list[Span] = []
    start = end = span.start
    words = 0
    for unit_start, unit_end, weight in _units(text, span, weights):
        if words and words + weight > max_words:
            result.append(Span(start, end))
            start, words = unit_start, 0
        words += weight
        end = unit_end
    if words:
        result.append(Span(start, end))
    return result


class SentimentAnalyzer:
    """Scores each sentence with VADER's compound and aggregates them by length."""

    analysis_type = AnalysisType.SENTIMENT

    def __init__(self, max_piece_words: int = MAX_PIECE_WORDS) -> None:
        self._max_piece_words = max_piece_words
        self._vader = _vader()
        _emoji_weights()  # built now, so that the first analysis pays nothing extra
        self.info = AnalyzerInfo(
            name="textlens-vader",
            version=ANALYZER_VERSION,
            lexicon=f"vaderSentiment {version('vaderSentiment')}",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Re-create rather than pickle the lexicons: a worker process loads them once.
        return (type(self), (self._max_piece_words,))

    def analyze(self, text: str) -> SentimentResult:
        sentences: list[SentenceSentiment] = []
        shares: list[tuple[float, float, float]] = []
        for sentence in sentence_spans(text):
            for start, end in pieces(text, sentence, self._max_piece_words):
                piece = text[start:end]
                scores = self._vader.polarity_scores(piece)
                score = float(scores["compound"])
                sentences.append(SentenceSentiment(piece, start, score, label_for(score)))
                shares.append(_proportions(scores))
        return self._aggregate(tuple(sentences), shares)

    def _aggregate(
        self, sentences: tuple[SentenceSentiment, ...], shares: list[tuple[float, float, float]]
    ) -> SentimentResult:
        if not sentences:
            return SentimentResult(0.0, SentimentLabel.NEUTRAL, 0.0, 0.0, 0.0, 1.0, (), self.info)
        lengths = [len(s.text) for s in sentences]
        total = sum(lengths)
        score = math.fsum(n * s.score for n, s in zip(lengths, sentences, strict=True)) / total
        score = min(1.0, max(-1.0, score))
        positive, negative, neutral = (
            math.fsum(n * share[i] for n, share in zip(lengths, shares, strict=True)) / total
            for i in range(3)
        )
        return SentimentResult(
            score=score,
            label=label_for(score),
            magnitude=math.fsum(abs(s.score) for s in sentences),
            positive=positive,
            negative=negative,
            neutral=neutral,
            sentences=sentences,
            analyzer=self.info,
        )


def _proportions(scores: dict[str, float]) -> tuple[float, float, float]:
    """VADER's pos/neg/neu, rescaled to sum to 1 (VADER rounds each to 3 decimals)."""
    pos, neg, neu = scores["pos"], scores["neg"], scores["neu"]
    total = pos + neg + neu
    if total <= 0:
        return 0.0, 0.0, 1.0
    return pos / total, neg / total, neu / total
