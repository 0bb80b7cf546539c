"""Readability (Flesch, Flesch-Kincaid), lexical diversity (MATTR) and writing issues."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import cache
from importlib.metadata import version
from typing import Any

from pyphen import Pyphen

from server.domain.analyzers.base import AnalyzerInfo, QualityResult
from server.domain.analyzers.quality_issues import find_issues
from server.domain.analyzers.text import Span, sentence_spans
from server.domain.model import AnalysisType

ANALYZER_VERSION = "2.0.0"
HYPHENATION_LANGUAGE = "en_US"
# Moving-average type/token ratio (Covington & McFall, 2010) over windows of this many
# words: unlike a plain type/token ratio it does not fall as a text grows, and unlike
# MTLD it is a ratio in [0, 1] at every length.
MATTR_WINDOW = 50
# The figures are clamped to the scales their readers know: reading ease runs from 0
# (very hard) to 100 (very easy), the grade from 0 to 20 (postgraduate).
EASE_RANGE = (0.0, 100.0)
GRADE_RANGE = (0.0, 20.0)
# English words are shorter than this; longer "words" (a key held down) are hyphenated in
# slices, so that one pathological token costs no more than ordinary words of its length.
MAX_WORD_CHARS = 64
# pyphen memoises every word it has hyphenated in a dict that never shrinks; a server that
# sees endless new words would grow without bound, so the memo is emptied past this size.
MAX_MEMO_WORDS = 20_000
_PUNCTUATION = re.compile(r"[^\w\s]")


@cache
def _hyphenator() -> Pyphen:
    return Pyphen(lang=HYPHENATION_LANGUAGE)


def lexical_diversity(words: Sequence[str], window: int = MATTR_WINDOW) -> float:
    """Distinct words over words, in [0, 1]: averaged over every run of ``window`` words
    (MATTR) when the text is longer than that, over the whole text otherwise; 0 without
    words. Linear in the number of words."""
    n = len(words)
    if n == 0:
        return 0.0
    if n <= window:
        return len(set(words)) / n
    counts = Counter(words[:window])
    types = len(counts)
    total = types
    for leaving, entering in zip(words, words[window:], strict=False):
        counts[leaving] -= 1
        if not counts[leaving]:
            types -= 1
        if not counts[entering]:
            types += 1
        counts[entering] += 1
        total += types
    return total / ((n - window + 1) * window)


def clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def readability(words: int, sentences: int, syllables: int) -> tuple[float, float]:
    """Flesch reading ease in [0, 100] and Flesch-Kincaid grade level in [0, 20], clamped;
    (0, 0) for a text without words."""
    if not words or not sentences:
        return 0.0, 0.0
    words_per_sentence = words / sentences
    syllables_per_word = syllables / words
    ease = 206.835 - 1.015 * words_per_sentence - 84.6 * syllables_per_word
    grade = 0.39 * words_per_sentence + 11.8 * syllables_per_word - 15.59
    return clamp(ease, EASE_RANGE), clamp(grade, GRADE_RANGE)


def quality_score(ease: float, diversity: float, penalty: float) -> float:
    """The formula documented on textlens.v1.QualityResult."""
    return clamp(0.6 * ease / 100 + 0.4 * diversity - penalty, (0.0, 1.0))


class QualityAnalyzer:
    """Counts words, sentences and syllables as textstat does, and finds writing issues."""

    analysis_type = AnalysisType.QUALITY

    def __init__(self) -> None:
        self._pyphen = _hyphenator()
        self.info = AnalyzerInfo(
            name="textlens-readability",
            version=ANALYZER_VERSION,
            lexicon=f"pyphen {version('pyphen')} {HYPHENATION_LANGUAGE}",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), ())

    def analyze(self, text: str) -> QualityResult:
        words: list[str] = []
        sentences: list[tuple[Span, int]] = []
        for sentence in sentence_spans(text):
            # As textstat counts words: drop punctuation, then split on whitespace.
            lowered = text[sentence.start : sentence.end].lower()
            here = _PUNCTUATION.sub("", lowered).split()
            if here:
                words.extend(here)
                sentences.append((sentence, len(here)))
        syllables = sum(n * self.syllables(word) for word, n in Counter(words).items())
        ease, grade = readability(len(words), len(sentences), syllables)
        diversity = lexical_diversity(words)
        issues, penalty = find_issues(text, sentences, len(words))
        return QualityResult(
            score=quality_score(ease, diversity, penalty),
            flesch_reading_ease=ease,
            grade_level=grade,
            word_count=len(words),
            sentence_count=len(sentences),
            syllable_count=syllables,
            lexical_diversity=diversity,
            issues=issues,
            analyzer=self.info,
        )

    def syllables(self, word: str) -> int:
        """Syllables of a lower-case word: its hyphenation points plus one."""
        if len(word) > MAX_WORD_CHARS:
            return sum(
                self.syllables(word[i : i + MAX_WORD_CHARS])
                for i in range(0, len(word), MAX_WORD_CHARS)
            )
        count = len(self._pyphen.positions(word)) + 1
        memo = getattr(getattr(self._pyphen, "hd", None), "cache", None)
        if isinstance(memo, dict) and len(memo) > MAX_MEMO_WORDS:
            memo.clear()
        return count
