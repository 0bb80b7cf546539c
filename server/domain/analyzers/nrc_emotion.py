"""Plutchik's eight emotions counted from the NRC Emotion Lexicon, with negation (opt-in).

The lexicon's terms allow research and teaching use only, so this analyzer is not a default:
it needs ``pip install 'textlens-server[nrc]'`` and
``TEXTLENS_ANALYZERS='{"emotion": "server.domain.analyzers.nrc_emotion:NrcEmotionAnalyzer"}'``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, ClassVar

from server.domain.analyzers import nrc
from server.domain.analyzers.base import EMOTIONS, AnalyzerInfo, Emotion, EmotionResult
from server.domain.model import AnalysisType

ANALYZER_VERSION = "1.1.0"
NEGATION_WINDOW = 3  # words after a negation that it reverses
# Letters with inner apostrophes: "don't", "mother's"; digits and underscores split words.
_WORD = re.compile(r"[^\W\d_]++(?:['’][^\W\d_]++)*+")
# Punctuation between two words ends a clause, and with it the reach of a negation:
# in "not angry, just weeping" the sadness counts.
_CLAUSE_BREAK = re.compile(r"[,.;:!?…()\[\]{}—–\"“”]")
# fmt: off
_NEGATIONS = frozenset({
    "not", "no", "never", "nothing", "nobody", "none", "nowhere", "neither", "nor", "without",
    "cannot", "hardly", "barely", "scarcely",
    # contractions typed without their apostrophe
    "aint", "arent", "cant", "couldnt", "didnt", "doesnt", "dont", "hadnt", "hasnt", "havent",
    "isnt", "mustnt", "neednt", "shouldnt", "wasnt", "werent", "wont", "wouldnt",
})
# fmt: on
_LONGEST_ENTRY = 40  # no lexicon word is longer; longer tokens are not looked up


def is_negation(word: str) -> bool:
    return word in _NEGATIONS or word.endswith("n't")


class NrcEmotionAnalyzer:
    """Counts the emotions of the lexicon words of a text, skipping negated ones.

    Scores are shares of the emotion associations found, not probabilities. ``neutral`` is 1
    and ``dominant`` NEUTRAL when no emotion word was found, else 0; ``categories`` is empty.
    """

    analysis_type = AnalysisType.EMOTION
    # Logged as a warning at start-up by the server when this analyzer is configured.
    licence_notice: ClassVar[str] = (
        "the NRC Emotion Lexicon is licensed for research and teaching only; commercial use "
        "needs a licence from the National Research Council Canada (docs/licensing-nrc.md)"
    )

    def __init__(self) -> None:
        self._lexicon = nrc.load_lexicon()
        self.info = AnalyzerInfo(
            name="textlens-nrc-emotion", version=ANALYZER_VERSION, lexicon=nrc.lexicon_version()
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Re-create rather than pickle the lexicon: a worker process loads it once.
        return (type(self), ())

    def lookup(self, word: str) -> tuple[Emotion, ...]:
        """The emotions of a lower-case word, after light suffix stripping."""
        if len(word) > _LONGEST_ENTRY:
            return ()
        for candidate in nrc.candidates(word):
            emotions = self._lexicon.get(candidate)
            if emotions:
                return emotions
        return ()

    def analyze(self, text: str) -> EmotionResult:
        counts: Counter[Emotion] = Counter()
        matched = 0
        negated_words_left = 0
        previous_end = 0
        seen: dict[str, tuple[Emotion, ...]] = {}  # words recur; strip each suffix once
        # No offsets are reported, so the text can be lower-cased whole, once.
        lowered = text.lower().replace("’", "'")
        for match in _WORD.finditer(lowered):
            word = match.group()
            if _CLAUSE_BREAK.search(lowered, previous_end, match.start()) or word == "but":
                negated_words_left = 0
            previous_end = match.end()
            if is_negation(word):
                negated_words_left = NEGATION_WINDOW
                continue
            if negated_words_left:
                negated_words_left -= 1
                continue
            emotions = seen.get(word)
            if emotions is None:
                emotions = seen[word] = self.lookup(word)
            if emotions:
                matched += 1
                counts.update(emotions)
        return self._result(counts, matched)

    def _result(self, counts: Counter[Emotion], matched: int) -> EmotionResult:
        total = sum(counts.values())
        scores = {e: counts[e] / total if total else 0.0 for e in EMOTIONS}
        # max() keeps the first of equal scores, which breaks ties in enum order.
        dominant = max(EMOTIONS, key=lambda e: counts[e]) if total else Emotion.NEUTRAL
        return EmotionResult(
            anger=scores[Emotion.ANGER],
            anticipation=scores[Emotion.ANTICIPATION],
            disgust=scores[Emotion.DISGUST],
            fear=scores[Emotion.FEAR],
            joy=scores[Emotion.JOY],
            sadness=scores[Emotion.SADNESS],
            surprise=scores[Emotion.SURPRISE],
            trust=scores[Emotion.TRUST],
            dominant=dominant,
            matched_word_count=matched,
            analyzer=self.info,
            neutral=0.0 if total else 1.0,
        )
