"""Invariants every analyzer keeps on any text at all, checked with Hypothesis."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from server.domain.analyzers import (
    AnalysisResult,
    Emotion,
    EmotionAnalyzer,
    QualityAnalyzer,
    SentimentAnalyzer,
    result_from_dict,
)
from server.domain.analyzers.sentiment import MAX_PIECE_WORDS, WHOLE_TEXT_MAX_CHARS, label_for
from server.domain.analyzers.text import sentence_spans
from server.domain.model import AnalysisType

SENTIMENT = SentimentAnalyzer()
VADER = SentimentIntensityAnalyzer()
QUALITY = QualityAnalyzer()
EMOTION = EmotionAnalyzer()

TRICKY = [
    "é", "e\u0301", "\u0301", "ß", "İ", "日本語", "。", "！", "😍", "👍🏽", "👨\u200d👩\u200d👧",
    "\u202e", "\u200f", "مرحبا", "שלום", "\x00", "\x1c", "\x85", "\u2028", "\xa0", "\t", "\n",
    "\n\n", " ", ".", "!", "?", "…", "'", "’", '"', ")", ",", "n't", "not", "Mr.", "e.g.",
]  # fmt: skip
WORDS = [
    "good", "bad", "very", "not", "happy", "scared", "cries", "the", "THE", "love", "hate",
    "but", "never", "sooooo", "!!!!", ":)", "😡", "kind", "of", "no", "least", "without",
]  # fmt: skip
texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.characters(), st.sampled_from(TRICKY)), max_size=150).map("".join),
    st.lists(st.sampled_from(WORDS + TRICKY), max_size=120).map(" ".join),
    st.lists(st.sampled_from(WORDS + TRICKY), max_size=120).map("".join),
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def roundtrips(analysis_type: AnalysisType, result: AnalysisResult) -> bool:
    data = json.loads(json.dumps(result.to_dict()))
    return result_from_dict(analysis_type, data) == result


@PROPERTY
@given(texts)
def test_sentences_are_slices_of_the_text_and_lose_nothing_but_whitespace(text: str) -> None:
    result = SENTIMENT.analyze(text)
    previous_end = 0
    for sentence in result.sentences:
        assert 0 <= previous_end <= sentence.offset < len(text)
        assert text[sentence.offset : sentence.offset + len(sentence.text)] == sentence.text
        assert sentence.text == sentence.text.strip() != ""
        assert text[previous_end : sentence.offset].strip() == ""
        previous_end = sentence.offset + len(sentence.text)
    assert text[previous_end:].strip() == ""


@PROPERTY
@given(texts)
def test_sentiment_scores_stay_in_range(text: str) -> None:
    result = SENTIMENT.analyze(text)
    assert -1 <= result.score <= 1
    assert result.label is label_for(result.score)
    assert result.magnitude >= 0 and math.isfinite(result.magnitude)
    shares = (result.positive, result.negative, result.neutral)
    assert all(0 <= share <= 1 for share in shares)
    assert sum(shares) == pytest.approx(1.0)
    assert all(-1 <= s.score <= 1 and s.label is label_for(s.score) for s in result.sentences)
    assert roundtrips(AnalysisType.SENTIMENT, result)


@PROPERTY
@given(texts)
def test_a_text_under_the_bound_and_each_sentence_score_exactly_as_vader(text: str) -> None:
    text = text.strip()
    result = SENTIMENT.analyze(text)
    assert len(text) <= WHOLE_TEXT_MAX_CHARS
    assert result.score == VADER.polarity_scores(text)["compound"]
    for sentence in result.sentences:
        assert sentence.score == VADER.polarity_scores(sentence.text)["compound"]


@PROPERTY
@given(texts)
def test_no_scored_piece_exceeds_the_word_cap_vader_sees(text: str) -> None:
    emojis = SENTIMENT._vader.emojis
    for sentence in SENTIMENT.analyze(text).sentences:
        spelled = "".join(f" {emojis[ch]} " if ch in emojis else ch for ch in sentence.text)
        assert len(spelled.split()) <= MAX_PIECE_WORDS


@PROPERTY
@given(texts)
def test_quality_figures_stay_in_range_and_issues_inside_the_text(text: str) -> None:
    result = QUALITY.analyze(text)
    assert 0 <= result.score <= 1
    assert 0 <= result.sentence_count <= len(sentence_spans(text))
    assert result.word_count >= result.sentence_count
    assert result.syllable_count >= result.word_count
    assert 0 <= result.lexical_diversity <= 1
    assert 0 <= result.flesch_reading_ease <= 100 and 0 <= result.grade_level <= 20
    if result.issues:
        assert result.score <= 0.95  # every issue costs something
    for issue in result.issues:
        assert issue.offset >= 0 and issue.length >= 0
        assert issue.offset + issue.length <= len(text)
    assert roundtrips(AnalysisType.QUALITY, result)


@PROPERTY
@given(texts)
def test_emotion_scores_are_probabilities_with_a_consistent_dominant(text: str) -> None:
    result = EMOTION.analyze(text)
    scores = result.scores()
    assert all(0 <= score <= 1 for score in [*scores.values(), result.neutral])
    assert len(result.categories) == 27
    ranked = [c.score for c in result.categories]
    assert ranked == sorted(ranked, reverse=True)
    if result.neutral >= max(scores.values()):
        assert result.dominant is Emotion.NEUTRAL
    else:
        assert scores[result.dominant] == max(scores.values())
    assert 0 <= result.matched_word_count <= len(text)
    assert roundtrips(AnalysisType.EMOTION, result)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(WORDS + TRICKY), st.integers(min_value=1, max_value=10_000))
def test_long_repetitive_inputs_never_raise(piece: str, times: int) -> None:
    text = (piece * times)[:10_000]
    for analyzer in (SENTIMENT, QUALITY, EMOTION):
        analyzer.analyze(text)
