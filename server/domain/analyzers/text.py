"""Sentence and token spans shared by the analyzers, as code-point offsets into the text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple


class Span(NamedTuple):
    """A half-open range ``text[start:end]`` of code points."""

    start: int
    end: int


# Every pattern here is written so that the regex engine never backtracks over a run it has
# already consumed: a run of 10,000 "!" or spaces must cost 10,000 steps, not 10,000 squared.
_CLOSERS = "\"'’”)\\]»"
_CJK_END = rf"[。！？]++[{_CLOSERS}]*+"  # CJK full stops need no space after them
# Latin ones do, so that "3.5" and "example.com" go on; the look-behind starts a match only
# at the first mark of a run ("?!").
_LATIN_END = rf"(?<![.!?…])(?>[.!?…]++[{_CLOSERS}]*+)(?=\s|\Z)"
SENTENCE_END = re.compile(rf"{_CJK_END}|{_LATIN_END}")
_BOUNDARY = re.compile(rf"{_CJK_END}|{_LATIN_END}|\n[^\S\n]*+\n")  # or a blank line
# A period after one of these (or after a single letter, an initial) does not end a sentence.
# fmt: off
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "u.s", "u.k",
    "a.m", "p.m", "inc", "ltd", "co", "corp", "dept", "fig", "approx",
})
# fmt: on
_TOKEN = re.compile(r"\S+")


def strip_span(text: str, start: int, end: int) -> Span | None:
    """The span without its leading and trailing whitespace; None if nothing is left."""
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return None
    first = start + (len(piece) - len(piece.lstrip()))
    return Span(first, first + len(stripped))


def _is_abbreviation(text: str, segment_start: int, period: int) -> bool:
    # Abbreviations are short, so looking a dozen characters back keeps this O(1).
    before = text[max(segment_start, period - 12) : period].split()
    if not before:
        return False
    word = before[-1].lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str) -> list[Span]:
    """Split ``text`` into sentences, each stripped of surrounding whitespace, in order.

    A sentence ends at ``.``, ``!``, ``?`` or ``…`` (with any closing quotes or brackets)
    followed by whitespace or the end of the text, at CJK full stops, and at blank lines.
    Linear in ``len(text)``.
    """
    spans: list[Span] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group() == "." and _is_abbreviation(text, start, match.start()):
            continue
        end = match.start() if match.group().startswith("\n") else match.end()
        span = strip_span(text, start, end)
        if span is not None:
            spans.append(span)
        start = match.end()
    span = strip_span(text, start, len(text))
    if span is not None:
        spans.append(span)
    return spans


def token_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[Span]:
    """Whitespace-separated tokens of ``text[start:end]``, as str.split() would cut them."""
    for match in _TOKEN.finditer(text, start, len(text) if end is None else end):
        yield Span(match.start(), match.end())
