"""Quality: textstat's readability figures clamped, MATTR, the issues found, and the score."""

from __future__ import annotations

import importlib.util
import pickle
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from server.domain.analyzers import QualityAnalyzer, QualityIssueKind, QualityResult
from server.domain.analyzers import quality as quality_module
from server.domain.analyzers.quality import (
    EASE_RANGE,
    GRADE_RANGE,
    MATTR_WINDOW,
    clamp,
    lexical_diversity,
    quality_score,
)

CHILDREN = (
    "The cat sat on the mat. The dog ran to the cat. The cat was not happy. It ran up a "
    "tree. The dog sat down and waited. Then it went home to eat."
)
LEGAL = (
    "Notwithstanding any provision of this Agreement to the contrary, the Licensee shall "
    "indemnify, defend and hold harmless the Licensor and its affiliates, officers, directors, "
    "employees and agents from and against any and all claims, liabilities, damages, losses, "
    "costs and expenses, including reasonable attorneys' fees, arising out of or relating to "
    "any breach of the representations, warranties or covenants contained herein."
)
PROSE = [
    "The city council met on Tuesday evening to discuss the new budget. Several residents "
    "spoke about the need for better roads and safer crossings near the schools. The mayor "
    "said that the plan would be published next month, after the finance committee has "
    "reviewed the numbers. Most members agreed that the library should stay open on weekends.",
    "Photosynthesis is the process by which green plants use sunlight to make their own food. "
    "Inside the leaves, tiny structures called chloroplasts capture light energy. This energy "
    "is used to turn water and carbon dioxide into sugar and oxygen. The oxygen is released "
    "into the air, which is why forests are so important for life on Earth.",
    CHILDREN,
    LEGAL,
]
# textstat 0.7.4 rounds words per sentence and syllables per word to one decimal before
# applying the formulas (and the grade to one decimal after), which moves reading ease by
# up to 1.015 * 0.05 + 84.6 * 0.05 and the grade by up to 0.39 * 0.05 + 11.8 * 0.05 + 0.05.
EASE_TOLERANCE = 4.3
GRADE_TOLERANCE = 0.7


@pytest.fixture(scope="module")
def analyzer() -> QualityAnalyzer:
    return QualityAnalyzer()


@pytest.fixture(scope="module")
def textstat() -> Iterator[Any]:
    """textstat 0.7.4 as the reference implementation.

    It imports pkg_resources, which setuptools no longer ships, only to read its easy-word
    lists; none of the functions used here touch it, so an empty stand-in lets it import.
    """
    with pytest.MonkeyPatch.context() as patch:
        if importlib.util.find_spec("pkg_resources") is None:
            patch.setitem(sys.modules, "pkg_resources", types.ModuleType("pkg_resources"))
        import textstat as reference  # noqa: PLC0415 - needs the stand-in above

        yield reference


@pytest.mark.parametrize("text", PROSE)
def test_counts_words_sentences_and_syllables_as_textstat_does(
    analyzer: QualityAnalyzer, textstat: Any, text: str
) -> None:
    result = analyzer.analyze(text)
    assert result.word_count == textstat.lexicon_count(text)
    assert result.sentence_count == textstat.sentence_count(text)
    assert result.syllable_count == textstat.syllable_count(text)


@pytest.mark.parametrize("text", PROSE)
def test_readability_agrees_with_textstat_within_its_rounding(
    analyzer: QualityAnalyzer, textstat: Any, text: str
) -> None:
    result = analyzer.analyze(text)
    assert result.flesch_reading_ease == pytest.approx(
        clamp(textstat.flesch_reading_ease(text), EASE_RANGE), abs=EASE_TOLERANCE
    )
    assert result.grade_level == pytest.approx(
        clamp(textstat.flesch_kincaid_grade(text), GRADE_RANGE), abs=GRADE_TOLERANCE
    )


def test_readability_of_a_hand_counted_text(analyzer: QualityAnalyzer) -> None:
    # 12 words in 2 sentences; 16 syllables as the en_US hyphenation dictionary counts them.
    text = "We went to the library yesterday. The morning was cold and wet."
    result = analyzer.analyze(text)
    assert (result.word_count, result.sentence_count, result.syllable_count) == (12, 2, 16)
    assert result.flesch_reading_ease == pytest.approx(206.835 - 1.015 * 6 - 84.6 * 16 / 12)
    assert result.grade_level == pytest.approx(0.39 * 6 + 11.8 * 16 / 12 - 15.59)


def test_reading_ease_is_clamped_to_zero_to_one_hundred(analyzer: QualityAnalyzer) -> None:
    # Raw Flesch gives 116.1 for "The cat sat on the mat." and far below 0 for LEGAL.
    assert analyzer.analyze("The cat sat on the mat.").flesch_reading_ease == 100.0
    assert analyzer.analyze(LEGAL).flesch_reading_ease == 0.0


def test_grade_level_is_clamped_to_zero_to_twenty(analyzer: QualityAnalyzer) -> None:
    # Raw Flesch-Kincaid gives -1.45 for the six one-syllable words and about 39 for LEGAL.
    assert analyzer.analyze("The cat sat on the mat.").grade_level == 0.0
    assert analyzer.analyze(LEGAL).grade_level == 20.0


def test_a_childrens_text_ranks_easier_and_better_than_a_legal_paragraph(
    analyzer: QualityAnalyzer,
) -> None:
    easy, hard = analyzer.analyze(CHILDREN), analyzer.analyze(LEGAL)
    assert easy.flesch_reading_ease > 90 > 20 > hard.flesch_reading_ease
    assert easy.grade_level < 3 < 19 < hard.grade_level
    assert easy.score > hard.score


def test_lexical_diversity_of_a_short_text_is_its_type_token_ratio() -> None:
    assert lexical_diversity(["a", "b", "a", "c"]) == pytest.approx(3 / 4)
    assert lexical_diversity(["ok"]) == 1.0
    assert lexical_diversity([]) == 0.0


def test_lexical_diversity_of_a_long_text_is_the_mean_over_its_windows() -> None:
    words = [f"w{i % 37}" for i in range(130)] + ["x"] * 20
    windows = [words[i : i + MATTR_WINDOW] for i in range(len(words) - MATTR_WINDOW + 1)]
    expected = sum(len(set(w)) / MATTR_WINDOW for w in windows) / len(windows)
    assert lexical_diversity(words) == pytest.approx(expected)


def test_lexical_diversity_is_a_ratio_at_every_length_and_does_not_fall_with_length(
    analyzer: QualityAnalyzer,
) -> None:
    repetitive = analyzer.analyze("buy now " * 60)
    assert repetitive.lexical_diversity == pytest.approx(2 / MATTR_WINDOW)
    twenty_three = analyzer.analyze(" ".join(f"word{i}" for i in range(23)) + ".")
    assert twenty_three.lexical_diversity == 1.0  # 23 distinct words, not 23.0
    once, three_times = analyzer.analyze(PROSE[0]), analyzer.analyze(" ".join([PROSE[0]] * 3))
    assert 0.6 < once.lexical_diversity <= 1
    assert three_times.lexical_diversity == pytest.approx(once.lexical_diversity, abs=0.1)


def issues_of(result: QualityResult, kind: QualityIssueKind) -> list[tuple[int, int]]:
    return [(i.offset, i.length) for i in result.issues if i.kind is kind]


def test_reports_a_sentence_of_more_than_forty_words(analyzer: QualityAnalyzer) -> None:
    long = " ".join(["word"] * 41) + "."
    text = f"Short one. {long}"
    result = analyzer.analyze(text)
    assert issues_of(result, QualityIssueKind.LONG_SENTENCE) == [(11, len(long))]
    assert (
        issues_of(analyzer.analyze(" ".join(["word"] * 40) + "."), QualityIssueKind.LONG_SENTENCE)
        == []
    )


def test_reports_shouting_for_mostly_capital_letters(analyzer: QualityAnalyzer) -> None:
    assert issues_of(analyzer.analyze("THIS IS THE BEST DAY EVER!"), QualityIssueKind.SHOUTING) == [
        (0, 0)
    ]
    assert (
        issues_of(analyzer.analyze("I work at NASA and love it."), QualityIssueKind.SHOUTING) == []
    )
    assert (
        issues_of(analyzer.analyze("OK FINE"), QualityIssueKind.SHOUTING) == []
    )  # too few letters to tell


def test_reports_each_run_of_a_repeated_character(analyzer: QualityAnalyzer) -> None:
    text = "It was sooooo good!!!! Costs 10000 dollars..."
    assert issues_of(analyzer.analyze(text), QualityIssueKind.REPEATED_CHARACTERS) == [
        (8, 5),
        (18, 4),
    ]


def test_reports_a_word_repeated_in_a_row_but_not_correct_doubles(
    analyzer: QualityAnalyzer,
) -> None:
    text = "I saw the the THE cat. She had had enough. No, no, no. Wow! Wow! Bye bye."
    assert issues_of(analyzer.analyze(text), QualityIssueKind.REPEATED_WORDS) == [(6, 11), (65, 7)]


def test_reports_missing_sentence_punctuation_only_for_ten_words_or_more(
    analyzer: QualityAnalyzer,
) -> None:
    def flagged(text: str) -> bool:
        result = analyzer.analyze(text)
        return bool(issues_of(result, QualityIssueKind.NO_SENTENCE_PUNCTUATION))

    assert flagged("one two three four five six seven eight nine ten")
    assert flagged("version 3.5 is out and everyone at example.com seems to like it")
    assert not flagged("one two three four five six seven eight nine")
    assert not flagged("one two three four five six seven eight nine ten.")


@pytest.mark.parametrize(
    ("text", "words"),
    [("ok", 1), ("Nice work.", 2), ("One two three four five six seven eight nine.", 9)],
)
def test_a_text_too_short_to_judge_is_penalised_the_more_the_shorter(
    analyzer: QualityAnalyzer, text: str, words: int
) -> None:
    result = analyzer.analyze(text)
    assert issues_of(result, QualityIssueKind.TOO_SHORT) == [(0, 0)]
    penalty = 0.05 * (11 - words)
    assert result.score == pytest.approx(
        max(0.0, quality_score(result.flesch_reading_ease, result.lexical_diversity, 0) - penalty)
    )
    assert result.score < 1.0


def test_ok_no_longer_scores_a_perfect_one(analyzer: QualityAnalyzer) -> None:
    result = analyzer.analyze("ok")
    assert (result.flesch_reading_ease, result.lexical_diversity) == (100.0, 1.0)
    assert result.score == pytest.approx(0.5)


def test_a_shouted_text_cannot_score_one(analyzer: QualityAnalyzer) -> None:
    result = analyzer.analyze("THE CAT SAT ON THE MAT AND THE DOG RAN AWAY FROM IT.")
    assert issues_of(result, QualityIssueKind.SHOUTING) == [(0, 0)]
    assert result.score <= 0.8


def test_the_score_follows_the_documented_formula(analyzer: QualityAnalyzer) -> None:
    text = "It was sooooo good!!!! " + PROSE[0]
    result = analyzer.analyze(text)
    penalty = 2 * 0.05
    assert result.score == pytest.approx(
        0.6 * result.flesch_reading_ease / 100 + 0.4 * result.lexical_diversity - penalty
    )


def test_penalties_are_capped_per_kind_and_at_most_twenty_issues_are_listed(
    analyzer: QualityAnalyzer,
) -> None:
    text = " ".join(["Wow!!!!"] * 30 + ["This is fine."] * 10)
    result = analyzer.analyze(text)
    assert len(issues_of(result, QualityIssueKind.REPEATED_CHARACTERS)) == 20
    assert len(issues_of(result, QualityIssueKind.REPEATED_WORDS)) == 0  # "!!!!" between
    without_issues = analyzer.analyze(" ".join(["Wow."] * 30 + ["This is fine."] * 10))
    assert result.score == pytest.approx(max(0.0, without_issues.score - 0.2), abs=0.05)


def test_a_text_without_words_scores_zero_without_dividing_by_zero(
    analyzer: QualityAnalyzer,
) -> None:
    result = analyzer.analyze("😍😍 !!! …")
    assert (result.word_count, result.flesch_reading_ease, result.grade_level) == (0, 0.0, 0.0)
    assert (result.lexical_diversity, result.score) == (0.0, 0.0)


def test_an_overlong_word_is_hyphenated_in_slices(analyzer: QualityAnalyzer) -> None:
    word = "ab" * 5_000
    assert analyzer.syllables(word) == sum(
        analyzer.syllables(word[i : i + quality_module.MAX_WORD_CHARS])
        for i in range(0, len(word), quality_module.MAX_WORD_CHARS)
    )


def test_the_hyphenation_memo_stays_bounded(
    analyzer: QualityAnalyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quality_module, "MAX_MEMO_WORDS", 50)
    analyzer.analyze(" ".join(f"word{n}" for n in range(500)))
    assert len(analyzer._pyphen.hd.cache) <= 51


def test_every_result_names_the_analyzer_and_an_unpickled_one_agrees(
    analyzer: QualityAnalyzer,
) -> None:
    result = analyzer.analyze(PROSE[1])
    info = result.analyzer
    assert (info.name, info.version, info.lexicon) == (
        "textlens-readability",
        "2.0.0",
        "pyphen 0.18.1 en_US",
    )
    assert pickle.loads(pickle.dumps(analyzer)).analyze(PROSE[1]) == result
