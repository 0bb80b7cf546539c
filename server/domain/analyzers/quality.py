"""Readability (Flesch, Flesch-Kincaid), lexical diversity (MTLD) and writing issues."""

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

ANALYZER_VERSION = "1.0.0"
HYPHENATION_LANGUAGE = "en_US"
MTLD_THRESHOLD = 0.72  # McCarthy & Jarvis (2010)
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


def mtld(words: Sequence[str]) -> float:
    """Measure of textual lexical diversity: the mean of a forward and a backward pass."""
    if not words:
        return 0.0
    return (_mtld_pass(words) + _mtld_pass(words[::-1])) / 2


def _mtld_pass(words: Sequence[str]) -> float:
    factors = 0.0
    types: set[str] = set()
    tokens = 0
    for word in words:
        tokens += 1
        types.add(word)
        if len(types) / tokens <= MTLD_THRESHOLD:
            factors += 1
            types, tokens = set(), 0
    if tokens:
        factors += (1 - len(types) / tokens) / (1 - MTLD_THRESHOLD)
    # A text too short or too varied to complete one factor counts as one factor.
    return len(words) / max(factors, 1.0)


def readability(words: int, sentences: int, syllables: int) -> tuple[float, float]:
    """Flesch reading ease and Flesch-Kincaid grade level; (0, 0) for a text without words."""
    if not words or not sentences:
        return 0.0, 0.0
    words_per_sentence = words / sentences
    syllables_per_word = syllables / words
    ease = 206.835 - 1.015 * words_per_sentence - 84.6 * syllables_per_word
    grade = 0.39 * words_per_sentence + 11.8 * syllables_per_word - 15.59
    return ease, grade


def quality_score(ease: float, diversity: float, word_count: int, penalty: float) -> float:
    """The formula documented on textlens.v1.QualityResult."""
    readable = min(max(ease, 0.0), 100.0) / 100
    varied = min(max(diversity / min(100, word_count), 0.0), 1.0) if word_count else 0.0
    return min(max(0.6 * readable + 0.4 * varied - penalty, 0.0), 1.0)


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
        diversity = mtld(words)
        issues, penalty = find_issues(text, sentences, len(words))
        return QualityResult(
            score=quality_score(ease, diversity, len(words), penalty),
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
