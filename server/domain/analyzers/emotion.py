"""Emotions from a linear model trained on GoEmotions, mapped onto Plutchik's eight."""

from __future__ import annotations

import operator
from functools import cache
from pathlib import Path
from typing import Any

from server.domain.analyzers.base import (
    EMOTIONS,
    AnalyzerInfo,
    Emotion,
    EmotionResult,
    make_category,
)
from server.domain.analyzers.emotion_model import MODEL_FILE, EmotionModel, load_model
from server.domain.model import AnalysisType

ANALYZER_NAME = "textlens-goemotions-emotion"
_SCORE = operator.itemgetter(1)

# Plutchik's two emotions that Ekman's six lack, from the GoEmotions categories nearest to
# them on Plutchik's wheel: interest (curiosity) is mild anticipation, optimism is
# anticipation + joy, desire looks ahead; acceptance (approval) is mild trust, admiration
# is intense trust, love is joy + trust. Each is the highest of its categories' scores.
ANTICIPATION = ("curiosity", "desire", "optimism")
TRUST = ("admiration", "approval", "love")
EKMAN = ("anger", "disgust", "fear", "joy", "sadness", "surprise")


@cache
def _shared_model(path: Path) -> EmotionModel:
    return load_model(path)


class EmotionAnalyzer:
    """Scores a text with the GoEmotions model: Plutchik emotions, neutral and categories."""

    analysis_type = AnalysisType.EMOTION

    def __init__(self, model_file: Path = MODEL_FILE) -> None:
        self._model_file = model_file
        model = self._model = _shared_model(model_file)
        heads = model.heads
        self._neutral = heads.index("ekman:neutral")
        categories = sorted((name, i) for i, name in enumerate(heads) if ":" not in name)
        categories = [(name, i) for name, i in categories if name != "neutral"]
        self._category_names = tuple(name for name, _ in categories)
        self._categories = operator.itemgetter(*(i for _, i in categories))
        index = dict(categories)
        sources = {name: [heads.index(f"ekman:{name}")] for name in EKMAN}
        sources["anticipation"] = [index[name] for name in ANTICIPATION]
        sources["trust"] = [index[name] for name in TRUST]
        # Each of the eight emotions (enum order) picks its heads' scores; a lone head is
        # taken twice, so that every getter gives a tuple to take the highest of.
        self._plutchik = [
            operator.itemgetter(*(c := sources[e.name.lower()]), *c[:1]) for e in EMOTIONS
        ]
        meta = model.meta
        self.info = AnalyzerInfo(
            name=ANALYZER_NAME,
            version=str(meta["version"]),
            lexicon=f"{meta['name']} {meta['version']} ({meta['dataset']})",
            model_sha256=model.sha256,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Re-load rather than pickle the model: a worker process reads the file once.
        return (type(self), (self._model_file,))

    def analyze(self, text: str) -> EmotionResult:
        probabilities, known_words = self._model.score(text)
        scores = probabilities.tolist()
        emotions = [max(source(scores)) for source in self._plutchik]
        strongest = max(range(len(emotions)), key=emotions.__getitem__)  # ties: enum order
        anger, anticipation, disgust, fear, joy, sadness, surprise, trust = emotions
        neutral = scores[self._neutral]
        # A stable sort of the alphabetical categories: ties stay in name order.
        categories = zip(self._category_names, self._categories(scores), strict=True)
        ranked = sorted(categories, key=_SCORE, reverse=True)
        return EmotionResult(
            anger=anger,
            anticipation=anticipation,
            disgust=disgust,
            fear=fear,
            joy=joy,
            sadness=sadness,
            surprise=surprise,
            trust=trust,
            dominant=Emotion.NEUTRAL if neutral >= emotions[strongest] else EMOTIONS[strongest],
            matched_word_count=known_words,
            analyzer=self.info,
            neutral=neutral,
            categories=tuple(map(make_category, ranked)),
        )
