"""The concrete writing problems the quality analyzer reports, and what each one costs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from server.domain.analyzers.base import QualityIssue, QualityIssueKind
from server.domain.analyzers.text import SENTENCE_END, Span

LONG_SENTENCE_WORDS = 40
MIN_WORDS = 10  # below this, readability figures mean little (TOO_SHORT)
SHOUTING_MIN_LETTERS = 10
MAX_LISTED_PER_KIND = 20
# (penalty per issue, cap for the kind); textlens.v1.QualityIssueKind documents the same.
PENALTIES: dict[QualityIssueKind, tuple[float, float]] = {
    QualityIssueKind.LONG_SENTENCE: (0.05, 0.2),
    QualityIssueKind.SHOUTING: (0.2, 0.2),
    QualityIssueKind.REPEATED_CHARACTERS: (0.05, 0.2),
    QualityIssueKind.REPEATED_WORDS: (0.05, 0.2),
    QualityIssueKind.NO_SENTENCE_PUNCTUATION: (0.1, 0.1),
}
# TOO_SHORT costs more the shorter the text: 0.05 for each word short of MIN_WORDS, plus
# 0.05, so that no text it is reported for can score 1 (0.1 at nine words, 0.5 at one).
TOO_SHORT_PENALTY_PER_WORD = 0.05
# Digits are left out: "10000" is a number, not emphasis.
_REPEATED_CHARACTER = re.compile(r"([^\s\d])\1{3,}+")
_LETTER = re.compile(r"[^\W\d_]")
# The same word again after nothing but whitespace; punctuation between two equal words
# ("no, no", "Wow! Wow!") makes the repetition deliberate.
_REPEATED_WORD = re.compile(r"\b(\w++)(?:\s++\1\b)++", re.IGNORECASE)
# Doubled on purpose in correct English ("he had had enough", "that that is").
_DOUBLES_ALLOWED = frozenset({"had", "that"})


def _quote(s: str) -> str:
    return repr(s if len(s) <= 20 else s[:20] + "…")


def long_sentences(sentences: Iterable[tuple[Span, int]]) -> Iterator[QualityIssue]:
    for (start, end), words in sentences:
        if words > LONG_SENTENCE_WORDS:
            message = f"sentence of {words} words (over {LONG_SENTENCE_WORDS})"
            yield QualityIssue(QualityIssueKind.LONG_SENTENCE, message, start, end - start)


def shouting(text: str) -> Iterator[QualityIssue]:
    upper = sum(map(str.isupper, text))
    lower = sum(map(str.islower, text))
    if upper + lower >= SHOUTING_MIN_LETTERS and upper > lower:
        message = f"{upper} of {upper + lower} letters are capitals"
        yield QualityIssue(QualityIssueKind.SHOUTING, message, 0, 0)


def repeated_characters(text: str) -> Iterator[QualityIssue]:
    for match in _REPEATED_CHARACTER.finditer(text):
        length = match.end() - match.start()
        message = f"{_quote(match.group(1))} repeated {length} times"
        yield QualityIssue(QualityIssueKind.REPEATED_CHARACTERS, message, match.start(), length)


def repeated_words(text: str) -> Iterator[QualityIssue]:
    for match in _REPEATED_WORD.finditer(text):
        word = match.group(1).lower()
        if _LETTER.search(word) and word not in _DOUBLES_ALLOWED:
            times = len(match.group().split())
            message = f"{_quote(word)} {times} times in a row"
            length = match.end() - match.start()
            yield QualityIssue(QualityIssueKind.REPEATED_WORDS, message, match.start(), length)


def no_sentence_punctuation(text: str, word_count: int) -> Iterator[QualityIssue]:
    if word_count >= MIN_WORDS and SENTENCE_END.search(text) is None:
        message = f"{word_count} words without sentence-ending punctuation"
        yield QualityIssue(QualityIssueKind.NO_SENTENCE_PUNCTUATION, message, 0, 0)


def too_short(word_count: int) -> Iterator[QualityIssue]:
    if word_count < MIN_WORDS:
        message = f"{word_count} words; readability needs at least {MIN_WORDS}"
        yield QualityIssue(QualityIssueKind.TOO_SHORT, message, 0, 0)


def find_issues(
    text: str, sentences: Sequence[tuple[Span, int]], word_count: int
) -> tuple[tuple[QualityIssue, ...], float]:
    """The issues to list (at most MAX_LISTED_PER_KIND of each kind) and their total penalty."""
    found = [
        *too_short(word_count),
        *no_sentence_punctuation(text, word_count),
        *shouting(text),
        *long_sentences(sentences),
        *repeated_characters(text),
        *repeated_words(text),
    ]
    listed: list[QualityIssue] = []
    penalty = 0.0
    if word_count < MIN_WORDS:
        penalty += TOO_SHORT_PENALTY_PER_WORD * (MIN_WORDS + 1 - word_count)
    listed += [issue for issue in found if issue.kind is QualityIssueKind.TOO_SHORT]
    for kind, (each, cap) in PENALTIES.items():
        of_kind = [issue for issue in found if issue.kind is kind]
        listed.extend(of_kind[:MAX_LISTED_PER_KIND])
        penalty += min(cap, each * len(of_kind))
    listed.sort(key=lambda issue: (issue.offset, issue.kind))
    return tuple(listed), min(1.0, penalty)
