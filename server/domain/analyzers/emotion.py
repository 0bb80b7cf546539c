"""Emotions from a linear model trained on GoEmotions, mapped onto Plutchik's eight."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from server.domain.analyzers.base import (
    EMOTIONS,
    AnalyzerInfo,
    Emotion,
    EmotionCategory,
    EmotionResult,
)
from server.domain.analyzers.emotion_model import MODEL_FILE, EmotionModel, load_model
from server.domain.model import AnalysisType

ANALYZER_NAME = "textlens-goemotions-emotion"
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
        self._ekman = {name: heads.index(f"ekman:{name}") for name in (*EKMAN, "neutral")}
        categories = sorted((name, i) for i, name in enumerate(heads) if ":" not in name)
        categories = [(name, i) for name, i in categories if name != "neutral"]
        self._category_names = [name for name, _ in categories]
        self._category_columns = [i for _, i in categories]
        index = dict(categories)
        self._anticipation = [index[name] for name in ANTICIPATION]
        self._trust = [index[name] for name in TRUST]
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
        emotions = {name: scores[i] for name, i in self._ekman.items()}
        emotions["anticipation"] = max(scores[i] for i in self._anticipation)
        emotions["trust"] = max(scores[i] for i in self._trust)
        neutral = emotions.pop("neutral")
        strongest = max(EMOTIONS, key=lambda e: emotions[e.name.lower()])
        # A stable sort of the alphabetical categories: ties stay in name order.
        order = np.argsort(-probabilities[self._category_columns], kind="stable").tolist()
        names, columns = self._category_names, self._category_columns
        return EmotionResult(
            **emotions,
            dominant=Emotion.NEUTRAL if neutral >= emotions[strongest.name.lower()] else strongest,
            matched_word_count=known_words,
            analyzer=self.info,
            neutral=neutral,
            categories=tuple(EmotionCategory(names[i], scores[columns[i]]) for i in order),
        )
