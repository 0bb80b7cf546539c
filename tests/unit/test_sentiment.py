"""Sentiment follows VADER sentence by sentence, and stays linear on hostile input."""

from __future__ import annotations

import math
import pickle

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from server.domain.analyzers import SentimentAnalyzer, SentimentLabel
from server.domain.analyzers.sentiment import MAX_PIECE_WORDS, label_for


@pytest.fixture(scope="module")
def analyzer() -> SentimentAnalyzer:
    return SentimentAnalyzer()


@pytest.fixture(scope="module")
def vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def vader_words(vader: SentimentIntensityAnalyzer, piece: str) -> int:
    """How many words VADER itself sees in a piece, once it has spelled out the emoji."""
    spelled = "".join(f" {vader.emojis[ch]} " if ch in vader.emojis else ch for ch in piece)
    return len(spelled.split())


@pytest.mark.parametrize(
    "sentence",
    [
        "VADER is smart, handsome, and funny.",
        "VADER is VERY SMART, handsome, and FUNNY!!!",
        "The plot was good, but the characters are uncompelling and the dialog is not great.",
        "Today only kinda sux but I'll get by, lol",
        "I love it 😍",
        "Catch utf-8 emoji such as 💘 and 💋 and 😁",
        "At least it isn't a horrible book.",
        "Make sure you :) or :D today",
    ],
)
def test_a_one_sentence_text_scores_exactly_as_vader_compound(
    analyzer: SentimentAnalyzer, vader: SentimentIntensityAnalyzer, sentence: str
) -> None:
    result = analyzer.analyze(sentence)
    assert len(result.sentences) == 1
    assert result.score == pytest.approx(vader.polarity_scores(sentence)["compound"], abs=1e-6)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I absolutely love this phone, it is wonderful.", SentimentLabel.POSITIVE),
        ("Great service and friendly staff!", SentimentLabel.POSITIVE),
        ("This is the worst purchase I have ever made.", SentimentLabel.NEGATIVE),
        ("The delivery was late and the box was damaged.", SentimentLabel.NEGATIVE),
        ("The meeting is at ten in room four.", SentimentLabel.NEUTRAL),
    ],
)
def test_sentences_of_known_polarity_get_the_right_label(
    analyzer: SentimentAnalyzer, text: str, label: SentimentLabel
) -> None:
    assert analyzer.analyze(text).label is label


def test_negation_turns_a_positive_sentence_negative(analyzer: SentimentAnalyzer) -> None:
    good = analyzer.analyze("The food was good.").score
    not_good = analyzer.analyze("The food was not good.").score
    assert good > 0 > not_good


def test_intensifiers_push_the_score_away_from_zero(analyzer: SentimentAnalyzer) -> None:
    assert analyzer.analyze("It is very good.").score > analyzer.analyze("It is good.").score
    assert analyzer.analyze("It is very bad.").score < analyzer.analyze("It is bad.").score


def test_emoji_carry_sentiment_as_vader_reads_them(
    analyzer: SentimentAnalyzer, vader: SentimentIntensityAnalyzer
) -> None:
    assert analyzer.analyze("I love it 😍").score > analyzer.analyze("I love it").score
    assert analyzer.analyze("😢").label is SentimentLabel.NEGATIVE
    assert analyzer.analyze("😍").score == vader.polarity_scores("😍")["compound"]


def test_capitals_add_emphasis_as_vader_does(
    analyzer: SentimentAnalyzer, vader: SentimentIntensityAnalyzer
) -> None:
    shouted = analyzer.analyze("The film was GREAT.").score
    assert shouted > analyzer.analyze("The film was great.").score
    assert shouted == vader.polarity_scores("The film was GREAT.")["compound"]


def test_sentences_come_with_their_offsets_in_the_text(analyzer: SentimentAnalyzer) -> None:
    text = "Mr. Smith loved the show!  The ending was sad.\n\nStill, I'd go again"
    result = analyzer.analyze(text)
    assert [s.text for s in result.sentences] == [
        "Mr. Smith loved the show!",
        "The ending was sad.",
        "Still, I'd go again",
    ]
    assert [s.offset for s in result.sentences] == [0, 27, 48]
    for sentence in result.sentences:
        assert text[sentence.offset : sentence.offset + len(sentence.text)] == sentence.text
        assert sentence.label is label_for(sentence.score)


def test_the_document_score_is_the_length_weighted_mean_of_sentences(
    analyzer: SentimentAnalyzer,
) -> None:
    result = analyzer.analyze(
        "I hate it. But honestly, the rest of the evening was lovely and fun."
    )
    lengths = [len(s.text) for s in result.sentences]
    expected = sum(n * s.score for n, s in zip(lengths, result.sentences, strict=True))
    assert result.score == pytest.approx(expected / sum(lengths))
    assert result.magnitude == pytest.approx(sum(abs(s.score) for s in result.sentences))
    assert result.positive + result.negative + result.neutral == pytest.approx(1.0)
    assert result.positive > 0 and result.negative > 0


def test_labels_follow_vaders_published_thresholds() -> None:
    assert label_for(0.05) is SentimentLabel.POSITIVE
    assert label_for(0.0499) is SentimentLabel.NEUTRAL
    assert label_for(-0.0499) is SentimentLabel.NEUTRAL
    assert label_for(-0.05) is SentimentLabel.NEGATIVE


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_a_text_without_sentences_is_neutral(analyzer: SentimentAnalyzer, text: str) -> None:
    result = analyzer.analyze(text)
    assert (result.score, result.label, result.neutral, result.sentences) == (
        0.0,
        SentimentLabel.NEUTRAL,
        1.0,
        (),
    )


def test_an_unpunctuated_run_is_scored_in_pieces_of_bounded_length(
    analyzer: SentimentAnalyzer, vader: SentimentIntensityAnalyzer
) -> None:
    text = " ".join(["this", "is", "really", "not", "bad", "at", "all"] * 300)[:10_000].strip()
    result = analyzer.analyze(text)
    assert len(result.sentences) >= len(text.split()) / MAX_PIECE_WORDS
    assert max(vader_words(vader, s.text) for s in result.sentences) <= MAX_PIECE_WORDS
    assert " ".join(s.text for s in result.sentences) == text  # no word lost or repeated


@pytest.mark.parametrize("emoji", ["😍", "😡👍🏽", "🎉x"])
def test_a_flood_of_emoji_is_scored_in_pieces_vader_handles_quickly(
    analyzer: SentimentAnalyzer, vader: SentimentIntensityAnalyzer, emoji: str
) -> None:
    text = (emoji * 10_000)[:10_000]
    result = analyzer.analyze(text)
    assert "".join(s.text for s in result.sentences) == text
    assert max(vader_words(vader, s.text) for s in result.sentences) <= MAX_PIECE_WORDS
    assert -1 <= result.score <= 1 and math.isfinite(result.magnitude)


def test_one_character_ten_thousand_times_is_one_neutral_sentence(
    analyzer: SentimentAnalyzer,
) -> None:
    result = analyzer.analyze("a" * 10_000)
    assert [s.offset for s in result.sentences] == [0]
    assert result.label is SentimentLabel.NEUTRAL


def test_every_result_names_the_analyzer_and_its_lexicon(analyzer: SentimentAnalyzer) -> None:
    info = analyzer.analyze("Fine.").analyzer
    assert info == analyzer.info
    assert (info.name, info.version, info.lexicon) == (
        "textlens-vader",
        "1.0.0",
        "vaderSentiment 3.3.2",
    )


def test_an_unpickled_analyzer_gives_the_same_results(analyzer: SentimentAnalyzer) -> None:
    copy = pickle.loads(pickle.dumps(analyzer))
    text = "Not bad at all. I'd buy it again 👍"
    assert copy.analyze(text) == analyzer.analyze(text)
    assert len(pickle.dumps(analyzer)) < 500  # the lexicon is reloaded, not shipped
