"""Quality: textstat's readability figures, MTLD, the issues found, and the score."""

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
from server.domain.analyzers.quality import mtld, quality_score

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
        textstat.flesch_reading_ease(text), abs=EASE_TOLERANCE
    )
    assert result.grade_level == pytest.approx(
        textstat.flesch_kincaid_grade(text), abs=GRADE_TOLERANCE
    )


def test_readability_of_a_hand_counted_sentence(analyzer: QualityAnalyzer) -> None:
    # 6 words, 1 sentence, 6 one-syllable words.
    result = analyzer.analyze("The cat sat on the mat.")
    assert (result.word_count, result.sentence_count, result.syllable_count) == (6, 1, 6)
    assert result.flesch_reading_ease == pytest.approx(206.835 - 1.015 * 6 - 84.6 * 1)
    assert result.grade_level == pytest.approx(0.39 * 6 + 11.8 * 1 - 15.59)


def test_a_childrens_text_ranks_easier_and_better_than_a_legal_paragraph(
    analyzer: QualityAnalyzer,
) -> None:
    easy, hard = analyzer.analyze(CHILDREN), analyzer.analyze(LEGAL)
    assert easy.flesch_reading_ease > 90 > 20 > hard.flesch_reading_ease
    assert easy.grade_level < 3 < 20 < hard.grade_level
    assert easy.score > hard.score


def test_mtld_of_an_alternating_pair_is_three_words() -> None:
    # "a b a": the type/token ratio falls to 2/3 <= 0.72 every third word, both ways.
    assert mtld(["a", "b"] * 6) == pytest.approx(3.0)


def test_mtld_counts_a_partial_factor_by_how_far_it_got() -> None:
    words = ["a", "b", "a", "c", "d", "e"]  # one factor ("a b a"), then "c d e" at 3/3
    forward = 6 / 1.0
    # backward: e d c a b a -> ratio stays above 0.72 until the end: 5/6, partial factor
    backward = 6 / max((1 - 5 / 6) / (1 - 0.72), 1.0)
    assert mtld(words) == pytest.approx((forward + backward) / 2)


def test_mtld_is_low_for_repetitive_text_and_never_exceeds_the_word_count(
    analyzer: QualityAnalyzer,
) -> None:
    repetitive = analyzer.analyze("buy now " * 60)
    assert repetitive.lexical_diversity < 5
    for text in PROSE:
        result = analyzer.analyze(text)
        assert 0 < result.lexical_diversity <= result.word_count


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


def test_reports_a_text_too_short_to_judge_without_penalty(analyzer: QualityAnalyzer) -> None:
    result = analyzer.analyze("Nice work.")
    assert issues_of(result, QualityIssueKind.TOO_SHORT) == [(0, 0)]
    assert result.score == pytest.approx(
        quality_score(result.flesch_reading_ease, result.lexical_diversity, 2, 0.0)
    )


def test_the_score_follows_the_documented_formula(analyzer: QualityAnalyzer) -> None:
    text = "It was sooooo good!!!! " + PROSE[0]
    result = analyzer.analyze(text)
    readable = min(max(result.flesch_reading_ease, 0), 100) / 100
    varied = min(
        result.lexical_diversity / min(100, result.word_count), QualityIssueKind.LONG_SENTENCE
    )
    penalty = 2 * 0.05
    assert result.score == pytest.approx(0.6 * readable + 0.4 * varied - penalty)


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
    assert result.score == 0.0


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
    assert (result.analyzer.name, result.analyzer.lexicon) == (
        "textlens-readability",
        "pyphen 0.18.1 en_US",
    )
    assert pickle.loads(pickle.dumps(analyzer)).analyze(PROSE[1]) == result
