"""VADER's polarity_scores rewritten to run in linear time, with its raw sums exposed.

vaderSentiment 3.3.2 lower-cases the whole word list again for every lexicon word it
meets, and rescans the list for every score after a "but", so a piece of n words costs
O(n²). ``Vader.score`` computes the same figures, rule for rule and in the same
floating-point order, so that its ``compound`` equals ``polarity_scores(text)["compound"]``
exactly (tests hold it to that on generated and human-rated texts), in O(n). It also
returns the sums VADER normalises, so that several pieces can be combined the way VADER
combines the words of one piece.
"""

from __future__ import annotations

import heapq
import math
import string
from collections.abc import Sequence
from functools import cache
from itertools import compress
from typing import NamedTuple

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    normalize,
)

_NEGATIONS = frozenset(NEGATE)
_PUNCTUATION = string.punctuation


class Valence(NamedTuple):
    """What VADER sums for a piece of text, before it normalises the sum.

    ``total`` is the sum of the word valences with the punctuation emphasis added
    (``sum_s`` in vaderSentiment); ``positive``, ``negative`` and ``neutral`` are the
    sums behind VADER's pos/neg/neu proportions (``negative`` as a magnitude).
    """

    total: float
    positive: float
    negative: float
    neutral: int

    @property
    def compound(self) -> float:
        """VADER's compound: the normalised total, rounded to four decimals as VADER does."""
        return round(normalize(self.total), 4) if self.total else 0.0

    def proportions(self) -> tuple[float, float, float]:
        """(pos, neg, neu), VADER's proportions before its rounding; (0, 0, 1) without words."""
        whole = self.positive + self.negative + self.neutral
        if whole <= 0:
            return 0.0, 0.0, 1.0
        return self.positive / whole, self.negative / whole, self.neutral / whole


NO_WORDS = Valence(0.0, 0.0, 0.0, 0)


def combine(valences: Sequence[Valence]) -> Valence:
    """Several pieces scored as VADER scores the words of one: their sums added up."""
    return Valence(
        total=math.fsum(v.total for v in valences),
        positive=math.fsum(v.positive for v in valences),
        negative=math.fsum(v.negative for v in valences),
        neutral=sum(v.neutral for v in valences),
    )


class Words(NamedTuple):
    """A piece of text as VADER sees it: emoji spelled out, split, punctuation stripped."""

    words: list[str]
    lower: list[str]
    exclamations: int
    questions: int


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


class Vader:
    """VADER's lexicons and rules; instances share the lexicons loaded once per process."""

    def __init__(self) -> None:
        analyzer = _analyzer()
        self.lexicon: dict[str, float] = analyzer.lexicon
        self.emojis: dict[str, str] = {k: v for k, v in analyzer.emojis.items() if len(k) == 1}

    def words(self, text: str) -> Words:
        """Tokenises as vaderSentiment does (its emoji handling is reproduced quirk for
        quirk: a description is glued to the character that follows the emoji)."""
        emojis = self.emojis
        if not text.isascii() and not emojis.keys().isdisjoint(text):
            parts: list[str] = []
            previous_space = True
            for character in text:
                description = emojis.get(character)
                if description is None:
                    parts.append(character)
                    previous_space = character == " "
                else:
                    if not previous_space:
                        parts.append(" ")
                    parts.append(description)
                    previous_space = False
            text = "".join(parts)
        text = text.strip()
        # Punctuation is stripped from both ends, unless that leaves two characters or
        # fewer: then the token is kept whole (":)", "<3").
        words = [
            token if len(stripped := token.strip(_PUNCTUATION)) <= 2 else stripped
            for token in text.split()
        ]
        return Words(words, [w.lower() for w in words], text.count("!"), text.count("?"))

    def score(self, text: str) -> Valence:
        """The sums behind ``polarity_scores(text)``."""
        return self.valence(self.words(text))

    def valence(self, piece: Words) -> Valence:
        return self._finish(piece, self._sentiments(piece.words, piece.lower))

    def valences(self, pieces: Sequence[Words]) -> tuple[list[Valence], Valence]:
        """Each piece scored on its own, and all of them scored as one text (as if their
        words were joined by whitespace), sharing the work the two have in common.

        A word's valence depends on the three words before it, the two after it and, for
        capitals, on whether the text mixes capitalised and other words. So the whole
        text's word valences serve every piece, except within three words of its start
        and two of its end, and except where capitals are judged differently; only those
        are scored again.
        """
        words = [word for piece in pieces for word in piece.words]
        lower = [word for piece in pieces for word in piece.lower]
        whole = self._sentiments(words, lower)
        is_cap_diff = _is_cap_diff(words)
        valences: list[Valence] = []
        start = 0
        for piece in pieces:
            n = len(piece.words)
            own = whole[start : start + n]
            own_cap_diff = _is_cap_diff(piece.words)
            if own_cap_diff != is_cap_diff and any(map(str.isupper, piece.words)):
                own = self._sentiments(piece.words, piece.lower)
            else:
                for i in range(n) if n <= 5 else (0, 1, 2, n - 2, n - 1):
                    own[i] = self._sentiment(piece.words, piece.lower, i, own_cap_diff)
            valences.append(self._finish(piece, own))
            start += n
        joined = Words(
            words,
            lower,
            sum(piece.exclamations for piece in pieces),
            sum(piece.questions for piece in pieces),
        )
        return valences, self._finish(joined, whole)

    def _finish(self, piece: Words, sentiments: list[float]) -> Valence:
        if not sentiments:
            return NO_WORDS
        _but_check(piece.lower, sentiments)
        return _score_valence(sentiments, _emphasis(piece.exclamations, piece.questions))

    def _sentiments(self, words: list[str], lower: list[str]) -> list[float]:
        """Each word's valence before the "but" rule (0 for words VADER does not score)."""
        n = len(words)
        sentiments: list[float] = [0] * n
        # Most words are not in the lexicon: find the ones that are without a Python loop.
        found = list(compress(range(n), map(self.lexicon.__contains__, lower)))
        if found:
            is_cap_diff = _is_cap_diff(words)
            for i in found:
                sentiments[i] = self._sentiment(words, lower, i, is_cap_diff)
        return sentiments

    def _sentiment(self, words: list[str], lower: list[str], i: int, is_cap_diff: bool) -> float:
        item = lower[i]
        if (
            item not in self.lexicon
            or item in BOOSTER_DICT
            or (i < len(words) - 1 and item == "kind" and lower[i + 1] == "of")
        ):
            return 0
        return self._valence(words, lower, i, is_cap_diff)

    def _valence(self, words: list[str], lower: list[str], i: int, is_cap_diff: bool) -> float:
        # SentimentIntensityAnalyzer.sentiment_valence, for a word found in the lexicon.
        lexicon = self.lexicon
        item = lower[i]
        valence = lexicon[item]
        if item == "no" and i != len(words) - 1 and lower[i + 1] in lexicon:
            valence = 0.0
        if (
            (i > 0 and lower[i - 1] == "no")
            or (i > 1 and lower[i - 2] == "no")
            or (i > 2 and lower[i - 3] == "no" and lower[i - 1] in ("or", "nor"))
        ):
            valence = lexicon[item] * N_SCALAR
        if words[i].isupper() and is_cap_diff:
            valence = valence + C_INCR if valence > 0 else valence - C_INCR
        for start_i in range(3):
            before = i - (start_i + 1)
            if i > start_i and lower[before] not in lexicon:
                s = _scalar_inc_dec(words[before], lower[before], valence, is_cap_diff)
                if start_i == 1 and s != 0:
                    s = s * 0.95
                if start_i == 2 and s != 0:
                    s = s * 0.9
                valence = valence + s
                valence = _negation_check(valence, lower, start_i, i)
                if start_i == 2:
                    valence = _special_idioms_check(valence, lower, i)
        return _least_check(valence, lower, i, lexicon)


def _is_cap_diff(words: list[str]) -> bool:
    """Whether some, but not all, of the words are in capitals (VADER's allcap_differential)."""
    capitals = sum(map(str.isupper, words))
    return 0 < len(words) - capitals < len(words)


def _scalar_inc_dec(word: str, lower: str, valence: float, is_cap_diff: bool) -> float:
    scalar = 0.0
    if lower in BOOSTER_DICT:
        scalar = BOOSTER_DICT[lower]
        if valence < 0:
            scalar *= -1
        if word.isupper() and is_cap_diff:
            if valence > 0:
                scalar += C_INCR
            else:
                scalar -= C_INCR
    return scalar


def _negated(word: str) -> bool:
    return word in _NEGATIONS or "n't" in word


def _negation_check(valence: float, lower: list[str], start_i: int, i: int) -> float:
    if start_i == 0 and _negated(lower[i - 1]):
        valence = valence * N_SCALAR
    if start_i == 1:
        if lower[i - 2] == "never" and (lower[i - 1] == "so" or lower[i - 1] == "this"):
            valence = valence * 1.25
        elif lower[i - 2] == "without" and lower[i - 1] == "doubt":
            pass
        elif _negated(lower[i - 2]):
            valence = valence * N_SCALAR
    if start_i == 2:
        # vaderSentiment's precedence, kept: (never and (so or this)) or (so or this).
        if (lower[i - 3] == "never" and (lower[i - 2] == "so" or lower[i - 2] == "this")) or (
            lower[i - 1] == "so" or lower[i - 1] == "this"
        ):
            valence = valence * 1.25
        elif lower[i - 3] == "without" and (lower[i - 2] == "doubt" or lower[i - 1] == "doubt"):
            pass
        elif _negated(lower[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _special_idioms_check(valence: float, lower: list[str], i: int) -> float:
    onezero = f"{lower[i - 1]} {lower[i]}"
    twoonezero = f"{lower[i - 2]} {lower[i - 1]} {lower[i]}"
    twoone = f"{lower[i - 2]} {lower[i - 1]}"
    threetwoone = f"{lower[i - 3]} {lower[i - 2]} {lower[i - 1]}"
    threetwo = f"{lower[i - 3]} {lower[i - 2]}"
    for sequence in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if sequence in SPECIAL_CASES:
            valence = SPECIAL_CASES[sequence]
            break
    if len(lower) - 1 > i:
        zeroone = f"{lower[i]} {lower[i + 1]}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if len(lower) - 1 > i + 1:
        zeroonetwo = f"{lower[i]} {lower[i + 1]} {lower[i + 2]}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


def _least_check(valence: float, lower: list[str], i: int, lexicon: dict[str, float]) -> float:
    if i > 1 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        if lower[i - 2] != "at" and lower[i - 2] != "very":
            valence = valence * N_SCALAR
    elif i > 0 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        valence = valence * N_SCALAR
    return valence


def _but_check(lower: list[str], sentiments: list[float]) -> None:
    """vaderSentiment's "but" rule, in place: scores before the first "but" are halved and
    scores after it raised by half.

    VADER walks the list and, for each score, rescales the *first* position holding an
    equal value (``list.index``), which is not always the position it is at: a halved 2.0
    earlier in the text takes the place of a later 1.0, which then stays as it was. That
    quirk is part of the scores people compare with, so it is kept; a heap of positions per
    value finds the first one in O(log n) instead of rescanning the list. Zeros stay zero
    whatever happens to them, so they are left alone.
    """
    if "but" not in lower:
        return
    but = lower.index("but")
    holders: dict[float, list[int]] = {}
    for position, value in enumerate(sentiments):
        if value == 0:
            continue
        target = position
        heap = holders.get(value)
        while heap:
            if sentiments[heap[0]] == value:
                target = heap[0]
                break
            heapq.heappop(heap)  # a position whose value has changed since
        if target != position:
            heapq.heappush(holders.setdefault(value, []), position)
        if target != but:
            scaled = value * 0.5 if target < but else value * 1.5
            sentiments[target] = scaled
            heapq.heappush(holders.setdefault(scaled, []), target)
        else:
            heapq.heappush(holders.setdefault(value, []), target)


def _emphasis(exclamations: int, questions: int) -> float:
    amplifier = min(exclamations, 4) * 0.292
    if questions > 1:
        amplifier += questions * 0.18 if questions <= 3 else 0.96
    return amplifier


def _score_valence(sentiments: list[float], emphasis: float) -> Valence:
    scores = [score for score in sentiments if score]
    # The built-in sum in VADER's order, not fsum: VADER's compound is rounded from this
    # exact sum (leaving out the zeros changes no partial sum).
    total = float(sum(scores))
    if total > 0:
        total += emphasis
    elif total < 0:
        total -= emphasis
    positive = 0.0
    negative = 0.0
    for score in scores:
        if score > 0:
            positive += float(score) + 1  # VADER counts a scored word as one neutral word too
        else:
            negative += float(score) - 1
    neutral = len(sentiments) - len(scores)
    if positive > math.fabs(negative):
        positive += emphasis
    elif positive < math.fabs(negative):
        negative -= emphasis
    return Valence(total, positive, math.fabs(negative), neutral)
