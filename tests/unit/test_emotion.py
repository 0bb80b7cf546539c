"""Emotion: the GoEmotions model shipped in the package, read through its results."""

from __future__ import annotations

import hashlib
import pickle

import pytest

from server.domain.analyzers import Emotion, EmotionAnalyzer
from server.domain.analyzers.base import EMOTIONS
from server.domain.analyzers.emotion import ANTICIPATION, TRUST
from server.domain.analyzers.emotion_model import MODEL_FILE

PRESENT = 0.5
CATEGORIES = {
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise",
}  # fmt: skip


@pytest.fixture(scope="module")
def analyzer() -> EmotionAnalyzer:
    return EmotionAnalyzer()


@pytest.mark.parametrize(
    ("text", "emotion"),
    [
        ("Fear.", Emotion.FEAR),
        ("I am sad.", Emotion.SADNESS),
        ("I am happy.", Emotion.JOY),
        ("I am disgusted by this.", Emotion.DISGUST),
        ("I was terrified when the lights went out.", Emotion.FEAR),
        ("This makes me so angry, I hate it.", Emotion.ANGER),
        ("Wow, I did not expect that at all!", Emotion.SURPRISE),
    ],
)
def test_a_clear_emotion_is_present_and_dominant(
    analyzer: EmotionAnalyzer, text: str, emotion: Emotion
) -> None:
    result = analyzer.analyze(text)
    assert result.dominant is emotion
    assert result.scores()[emotion] >= PRESENT


@pytest.mark.parametrize(
    "text",
    ["The color is blue.", "The battery lasts about six hours.", "The meeting is at 3 pm."],
)
def test_a_factual_text_is_neutral_with_no_emotion_present(
    analyzer: EmotionAnalyzer, text: str
) -> None:
    result = analyzer.analyze(text)
    assert result.dominant is Emotion.NEUTRAL
    assert result.neutral >= PRESENT
    assert max(result.scores().values()) < PRESENT


def test_scores_are_probabilities_and_categories_all_27_sorted(analyzer: EmotionAnalyzer) -> None:
    result = analyzer.analyze("Thank you so much, this is wonderful! I was worried it would fail.")
    assert all(0 <= s <= 1 for s in [*result.scores().values(), result.neutral])
    assert {c.name for c in result.categories} == CATEGORIES
    scores = [c.score for c in result.categories]
    assert scores == sorted(scores, reverse=True)
    assert result.categories[0].name == "gratitude"
    assert result.categories[0].score >= PRESENT


def test_anticipation_and_trust_are_their_strongest_category(analyzer: EmotionAnalyzer) -> None:
    for text in ["I hope it works out, I really want this.", "I agree, great job, well done."]:
        result = analyzer.analyze(text)
        category = {c.name: c.score for c in result.categories}
        assert result.anticipation == max(category[name] for name in ANTICIPATION)
        assert result.trust == max(category[name] for name in TRUST)
    assert analyzer.analyze("I hope it works out, I really want this.").anticipation >= PRESENT
    assert analyzer.analyze("I agree, great job, well done.").trust >= PRESENT


def test_dominant_is_the_strongest_emotion_unless_neutral_is_as_strong(
    analyzer: EmotionAnalyzer,
) -> None:
    for text in ["I am sad.", "The color is blue.", "Hmm.", "Why would anyone do that?"]:
        result = analyzer.analyze(text)
        strongest = max(result.scores().values())
        if result.neutral >= strongest:
            assert result.dominant is Emotion.NEUTRAL
        else:
            assert result.scores()[result.dominant] == strongest
            assert result.dominant is next(e for e in EMOTIONS if result.scores()[e] == strongest)


@pytest.mark.parametrize("text", [".", "?!", "a", "ok", "-", "\u200b", "12345"])
def test_an_empty_ish_text_gets_a_valid_result(analyzer: EmotionAnalyzer, text: str) -> None:
    result = analyzer.analyze(text)
    assert all(0 <= s <= 1 for s in [*result.scores().values(), result.neutral])
    assert len(result.categories) == 27
    assert result.dominant is not Emotion.UNSPECIFIED


def test_a_text_with_no_known_word_scores_as_no_evidence_neutral(
    analyzer: EmotionAnalyzer,
) -> None:
    result = analyzer.analyze("zzqxv blorptangle")
    assert result.matched_word_count == 0
    assert result.dominant is Emotion.NEUTRAL


def test_emoji_carry_emotion(analyzer: EmotionAnalyzer) -> None:
    assert analyzer.analyze("😂😂😂").categories[0].name == "amusement"
    assert analyzer.analyze("❤️❤️").dominant in (Emotion.JOY, Emotion.TRUST)
    only_emoji = analyzer.analyze("😍" * 10_000)
    assert len(only_emoji.categories) == 27


@pytest.mark.parametrize(
    "text",
    [
        "I am so sad today " * 600,  # one long unpunctuated sentence
        "🥲" * 10_000,
        "a" * 10_000,
        "sad. " * 2_000,
    ],
)
def test_a_very_long_text_gets_a_valid_result(analyzer: EmotionAnalyzer, text: str) -> None:
    result = analyzer.analyze(text[:10_000])
    assert all(0 <= s <= 1 for s in [*result.scores().values(), result.neutral])
    assert len(result.categories) == 27


def test_repeating_a_sentence_keeps_its_emotion(analyzer: EmotionAnalyzer) -> None:
    once = analyzer.analyze("I miss him so much, I can't stop crying.")
    many = analyzer.analyze("I miss him so much, I can't stop crying. " * 200)
    assert once.dominant is many.dominant is Emotion.SADNESS


def test_matched_word_count_counts_the_words_the_model_knows(analyzer: EmotionAnalyzer) -> None:
    assert analyzer.analyze("I am sad.").matched_word_count == 4  # "i", "am", "sad", "."
    assert analyzer.analyze("zzqxv sad").matched_word_count == 1


def test_the_result_names_the_model_its_version_and_file_hash(analyzer: EmotionAnalyzer) -> None:
    info = analyzer.analyze("I am happy.").analyzer
    assert info == analyzer.info
    assert info.name == "textlens-goemotions-emotion"
    assert info.version
    assert "GoEmotions" in info.lexicon and "CC BY 4.0" in info.lexicon
    assert info.model_sha256 == hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest()


def test_the_model_file_ships_in_the_package_and_stays_small() -> None:
    assert MODEL_FILE.parent.name == "data" and MODEL_FILE.parent.parent.name == "analyzers"
    assert MODEL_FILE.stat().st_size <= 25 * 1024 * 1024


def test_an_unpickled_analyzer_gives_the_same_results(analyzer: EmotionAnalyzer) -> None:
    text = "I was scared but hopeful."
    assert pickle.loads(pickle.dumps(analyzer)).analyze(text) == analyzer.analyze(text)
    assert len(pickle.dumps(analyzer)) < 500
