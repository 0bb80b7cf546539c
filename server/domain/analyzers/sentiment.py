"""Sentiment with VADER: the whole text as VADER scores it, and each sentence on its own."""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cache
from importlib.metadata import version
from itertools import pairwise
from typing import Any

from server.domain.analyzers.base import (
    AnalyzerInfo,
    SentenceSentiment,
    SentimentLabel,
    SentimentResult,
)
from server.domain.analyzers.text import Span, sentence_spans, token_spans
from server.domain.analyzers.vader import Vader, Valence, Words, combine
from server.domain.model import AnalysisType

ANALYZER_VERSION = "2.0.0"
# Up to this many characters the document score is VADER's compound for the whole text,
# exactly: every tweet, review snippet and chat message. Longer texts add up the raw
# valences of their sentences, as VADER adds up those of its words, damped by the square
# root of their number (see _valences; bench/sentiment_corpora.py measured the choice).
WHOLE_TEXT_MAX_CHARS = 1_000
# Sentences longer than this many words (as VADER counts them) are listed and scored in
# pieces, so that no "sentence" of a hostile text (10,000 characters without a full stop)
# reads as one.
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
def _vader() -> Vader:
    # Shared by every instance in the process: VADER keeps no state between calls.
    return Vader()


@cache
def _emoji_weights() -> dict[str, int]:
    """How many words VADER sees for each emoji character it knows.

    VADER replaces each such character with its description ("smiling face with
    heart-eyes"), so one emoji weighs as many words as its description has.
    """
    return {ch: len(desc.split()) for ch, desc in _vader().emojis.items()}


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
    if (sentence.isascii() or weights.keys().isdisjoint(sentence)) and len(
        sentence.split()
    ) <= max_words:
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
    """VADER's compound for the whole text (summed sentence valences past a length), and
    VADER's compound for each sentence."""

    analysis_type = AnalysisType.SENTIMENT

    def __init__(
        self,
        max_piece_words: int = MAX_PIECE_WORDS,
        whole_text_max_chars: int = WHOLE_TEXT_MAX_CHARS,
    ) -> None:
        self._max_piece_words = max_piece_words
        self._whole_text_max_chars = whole_text_max_chars
        self._vader = _vader()
        _emoji_weights()  # built now, so that the first analysis pays nothing extra
        self.info = AnalyzerInfo(
            name="textlens-vader",
            version=ANALYZER_VERSION,
            lexicon=f"vaderSentiment {version('vaderSentiment')}",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Re-create rather than pickle the lexicons: a worker process loads them once.
        return (type(self), (self._max_piece_words, self._whole_text_max_chars))

    def spans(self, text: str) -> list[Span]:
        """The sentences of ``text``, over-long ones cut into pieces, in order."""
        return [
            piece
            for sentence in sentence_spans(text)
            for piece in pieces(text, sentence, self._max_piece_words)
        ]

    def analyze(self, text: str) -> SentimentResult:
        spans = self.spans(text)
        if not spans:
            return SentimentResult(0.0, SentimentLabel.NEUTRAL, 0.0, 0.0, 0.0, 1.0, (), self.info)
        vader = self._vader
        words = [vader.words(text[start:end]) for start, end in spans]
        valences, document = self._valences(text, spans, words)
        sentences = tuple(
            SentenceSentiment(text[start:end], start, score, label_for(score))
            for (start, end), score in zip(spans, (v.compound for v in valences), strict=True)
        )
        score = document.compound
        positive, negative, neutral = document.proportions()
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

    def _valences(
        self, text: str, spans: list[Span], words: list[Words]
    ) -> tuple[list[Valence], Valence]:
        """What VADER sums for each sentence, and for the whole text: VADER's own sums up to
        the length bound; past it, the sentences' sums added up, the valence total divided
        by the square root of the number of sentences.

        Added up undamped, the total of a long text grows with its length and VADER's
        normalisation pins it near ±1 (as it pins VADER's own score of a long text); a
        mean of sentence scores pulls a clearly positive text toward 0 with every neutral
        sentence. On the long human-rated texts the damped sum correlates best with the
        ratings and keeps clear texts clear (docs/analyzers.md has the figures).

        A one-sentence text is scored once. Otherwise the whole text's words are the
        sentences' words one after the other, unless a sentence boundary falls inside a
        whitespace-separated token (a CJK full stop, a piece cut inside an emoji run): VADER
        sees one token there, so the text is scored again on its own.
        """
        vader = self._vader
        if len(text) > self._whole_text_max_chars:
            valences = [vader.valence(w) for w in words]
            summed = combine(valences)
            return valences, summed._replace(total=summed.total / math.sqrt(len(valences)))
        if len(spans) == 1:
            valence = vader.valence(words[0])
            return [valence], valence
        if all(a.end < b.start for a, b in pairwise(spans)):
            return vader.valences(words)
        return [vader.valence(w) for w in words], vader.score(text)
