"""Sentiment is VADER's compound for short texts and each sentence, undiluted for long ones."""

from __future__ import annotations

import math
import pickle

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from server.domain.analyzers import SentimentAnalyzer, SentimentLabel
from server.domain.analyzers.sentiment import MAX_PIECE_WORDS, WHOLE_TEXT_MAX_CHARS, label_for


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


@pytest.mark.parametrize(
    ("text", "compound"),
    [
        ("Amazing! Exceeded all my expectations.", 0.6239),
        ("I hate it. Complete waste of money.", -0.7579),
    ],
)
def test_a_short_text_of_several_sentences_scores_vaders_compound_for_the_whole_text(
    analyzer: SentimentAnalyzer, vader: SentimentIntensityAnalyzer, text: str, compound: float
) -> None:
    result = analyzer.analyze(text)
    assert len(result.sentences) == 2
    assert result.score == pytest.approx(vader.polarity_scores(text)["compound"], abs=1e-6)
    assert result.score == pytest.approx(compound, abs=1e-6)


def test_each_sentence_keeps_its_own_vader_compound(
    analyzer: SentimentAnalyzer, vader: SentimentIntensityAnalyzer
) -> None:
    result = analyzer.analyze("I hate it. But honestly, the rest of the evening was lovely!")
    assert [s.score for s in result.sentences] == [
        vader.polarity_scores(s.text)["compound"] for s in result.sentences
    ]
    assert result.magnitude == pytest.approx(sum(abs(s.score) for s in result.sentences))
    assert result.positive + result.negative + result.neutral == pytest.approx(1.0)
    assert result.positive > 0 and result.negative > 0


def test_shares_are_vaders_proportions_for_the_whole_text(
    analyzer: SentimentAnalyzer, vader: SentimentIntensityAnalyzer
) -> None:
    text = "The room was clean. Breakfast was awful, and the staff were rude!"
    result = analyzer.analyze(text)
    scores = vader.polarity_scores(text)
    assert result.positive == pytest.approx(scores["pos"], abs=5e-4)
    assert result.negative == pytest.approx(scores["neg"], abs=5e-4)
    assert result.neutral == pytest.approx(scores["neu"], abs=5e-4)


def test_the_whole_text_rule_ends_at_the_documented_bound(
    analyzer: SentimentAnalyzer, vader: SentimentIntensityAnalyzer
) -> None:
    sentence = "The staff were friendly. The room was clean. We loved the pool! "
    text = (sentence * 20)[:WHOLE_TEXT_MAX_CHARS].rsplit(" ", 1)[0]
    assert analyzer.analyze(text).score == vader.polarity_scores(text)["compound"]
    longer = text + " " + sentence.strip()
    assert len(longer) > WHOLE_TEXT_MAX_CHARS
    result = analyzer.analyze(longer)
    valences = [vader_valence(s.text) for s in result.sentences]
    expected = sum(valences) / math.sqrt(len(valences))
    assert result.score == pytest.approx(expected / math.sqrt(expected**2 + 15), abs=1e-4)


def vader_valence(text: str) -> float:
    """VADER's raw sum for a text, recovered from its compound (compound = x / sqrt(x² + 15))."""
    compound = SentimentIntensityAnalyzer().polarity_scores(text)["compound"]
    return compound * math.sqrt(15 / (1 - compound**2)) if abs(compound) < 1 else compound * 1e6


def test_a_long_clearly_positive_text_is_not_pulled_toward_zero_by_neutral_sentences(
    analyzer: SentimentAnalyzer,
) -> None:
    positive = "I absolutely loved this hotel. "
    neutral = "The hotel is on Main Street near the station. "
    text = ((positive + neutral * 3) * 10).strip()
    assert len(text) > WHOLE_TEXT_MAX_CHARS
    result = analyzer.analyze(text)
    mean = sum(s.score for s in result.sentences) / len(result.sentences)
    assert mean < 0.2  # what a mean of the sentence scores would report
    assert result.score > 0.75
    assert result.label is SentimentLabel.POSITIVE


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
        "2.0.0",
        "vaderSentiment 3.3.2",
    )


def test_an_unpickled_analyzer_gives_the_same_results(analyzer: SentimentAnalyzer) -> None:
    copy = pickle.loads(pickle.dumps(analyzer))
    text = "Not bad at all. I'd buy it again 👍"
    assert copy.analyze(text) == analyzer.analyze(text)
    assert len(pickle.dumps(analyzer)) < 500  # the lexicon is reloaded, not shipped
