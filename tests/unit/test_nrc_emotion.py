"""The opt-in NRC emotion analyzer: lexicon words, suffix stripping, negation."""

from __future__ import annotations

import json
import pickle

import pytest

from server.domain.analyzers import Emotion, nrc
from server.domain.analyzers.nrc_emotion import NrcEmotionAnalyzer


@pytest.fixture(scope="module")
def analyzer() -> NrcEmotionAnalyzer:
    return NrcEmotionAnalyzer()


def test_finds_fear_in_a_frightening_text(analyzer: NrcEmotionAnalyzer) -> None:
    text = "I was afraid in the dark. The nightmare filled me with terror, and I screamed."
    result = analyzer.analyze(text)
    assert result.dominant is Emotion.FEAR
    assert result.fear > result.joy


def test_finds_joy_in_a_happy_text(analyzer: NrcEmotionAnalyzer) -> None:
    result = analyzer.analyze("What a wonderful, joyful day! We laughed and celebrated together.")
    assert result.dominant is Emotion.JOY
    assert result.joy > result.fear


def test_a_negated_emotion_word_is_not_counted(analyzer: NrcEmotionAnalyzer) -> None:
    for text in ["I am not happy.", "I'm not very happy", "I don't love it", "Never happy"]:
        result = analyzer.analyze(text)
        assert (result.joy, result.matched_word_count, result.dominant, result.neutral) == (
            0.0,
            0,
            Emotion.NEUTRAL,
            1.0,
        ), text


def test_negation_reaches_three_words_and_stops_at_the_clause(analyzer: NrcEmotionAnalyzer) -> None:
    assert analyzer.analyze("not at all in the least happy").joy > 0  # five words away
    assert analyzer.analyze("I am not angry, I am weeping.").sadness > 0
    assert analyzer.analyze("Not perfect but happy").joy > 0


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("screamed", "scream"),
        ("cries", "cry"),
        ("cried", "cry"),
        ("scared", "scare"),
        ("hated", "hate"),
        ("hoping", "hope"),
        ("smiled", "smile"),
        ("laughed", "laugh"),
        ("screams", "scream"),
        ("nightmares", "nightmare"),
        ("killed", "kill"),
        ("angrily", "angry"),
        ("mother's", "mother"),
    ],
)
def test_inflected_words_match_their_lexicon_entry(
    analyzer: NrcEmotionAnalyzer, word: str, stem: str
) -> None:
    lexicon = nrc.load_lexicon()
    assert word not in lexicon
    assert analyzer.lookup(word) == lexicon[stem]


def test_scores_are_shares_of_the_emotion_associations(analyzer: NrcEmotionAnalyzer) -> None:
    # "fear" is anger + fear in the lexicon; "joy" is joy.
    result = analyzer.analyze("fear and joy")
    assert nrc.load_lexicon()["fear"] == (Emotion.ANGER, Emotion.FEAR)
    assert (result.anger, result.fear, result.joy) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert sum(result.scores().values()) == pytest.approx(1.0)
    assert result.matched_word_count == 2


def test_ties_go_to_the_first_emotion_in_enum_order(analyzer: NrcEmotionAnalyzer) -> None:
    assert analyzer.analyze("fear and joy").dominant is Emotion.ANGER


def test_a_text_without_emotion_words_is_neutral(analyzer: NrcEmotionAnalyzer) -> None:
    result = analyzer.analyze("The table is in room 4. 日本語のテキスト")
    assert result.dominant is Emotion.NEUTRAL
    assert result.neutral == 1.0
    assert set(result.scores().values()) == {0.0}
    assert result.categories == ()
    assert analyzer.analyze("I was afraid.").neutral == 0.0


def test_curly_apostrophes_negate_like_straight_ones(analyzer: NrcEmotionAnalyzer) -> None:
    assert analyzer.analyze("I don’t love it").matched_word_count == 0


def test_the_lexicon_is_the_json_file_shipped_in_nrclex(analyzer: NrcEmotionAnalyzer) -> None:
    path = nrc.lexicon_path()
    assert path.name == "nrc_en.json" and path.parent.parent.name == "nrclex"
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert set(nrc.load_lexicon()) <= set(raw)
    assert analyzer.info.lexicon == "NRCLex 4.1.0 nrc_en.json"
    assert analyzer.analyze("joy").analyzer.name == "textlens-nrc-emotion"
    assert analyzer.info.model_sha256 == ""


def test_it_states_its_research_only_licence() -> None:
    assert "research and teaching only" in NrcEmotionAnalyzer.licence_notice


def test_an_unpickled_analyzer_gives_the_same_results(analyzer: NrcEmotionAnalyzer) -> None:
    text = "I was scared but hopeful."
    assert pickle.loads(pickle.dumps(analyzer)).analyze(text) == analyzer.analyze(text)
    assert len(pickle.dumps(analyzer)) < 500
