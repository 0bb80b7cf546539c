"""Score the shipped emotion analyzer on a GoEmotions split, as a caller would read its results.

Predictions are taken from the analyzer's results, "score >= 0.5 means present": the Ekman
level from the result's anger, disgust, fear, joy, sadness, surprise and neutral fields, the
28-label level from its categories and neutral.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from server.domain.analyzers.base import EmotionResult
from server.domain.analyzers.emotion import EKMAN, EmotionAnalyzer
from server.domain.analyzers.emotion_model import load_model
from training.goemotions import calibration, load_split

PRESENT = 0.5
EKMAN_FIELDS = (*EKMAN, "neutral")


@dataclass(frozen=True)
class ClassScore:
    name: str
    support: int
    precision: float
    recall: float
    f1: float


def class_scores(
    names: list[str], truth: npt.NDArray[np.int8], predicted: npt.NDArray[np.bool_]
) -> list[ClassScore]:
    scores = []
    for k, name in enumerate(names):
        y, p = truth[:, k].astype(bool), predicted[:, k]
        tp = int((y & p).sum())
        precision = tp / p.sum() if p.sum() else 0.0
        recall = tp / y.sum() if y.sum() else 0.0
        f1 = 2 * tp / (y.sum() + p.sum()) if y.sum() + p.sum() else 0.0
        scores.append(ClassScore(name, int(y.sum()), precision, recall, f1))
    return scores


def ekman_row(result: EmotionResult) -> list[float]:
    return [getattr(result, name) for name in EKMAN_FIELDS]


def category_row(result: EmotionResult, names: list[str]) -> list[float]:
    scores = {c.name: c.score for c in result.categories}
    scores["neutral"] = result.neutral
    return [scores[name] for name in names]


@dataclass(frozen=True)
class Scored:
    """A split's labels beside the analyzer's scores, at both levels."""

    ekman_truth: npt.NDArray[np.int8]
    ekman_scores: npt.NDArray[np.float64]
    fine_names: list[str]
    fine_truth: npt.NDArray[np.int8]
    fine_scores: npt.NDArray[np.float64]


def score(data: Path, model: Path, split: str = "dev") -> Scored:
    analyzer = EmotionAnalyzer(model)
    loaded = load_split(data, split)
    results = [analyzer.analyze(text) for text in loaded.texts]
    fine = [h for h in loaded.heads if ":" not in h]
    return Scored(
        ekman_truth=loaded.labels[:, [loaded.heads.index(f"ekman:{n}") for n in EKMAN_FIELDS]],
        ekman_scores=np.array([ekman_row(r) for r in results]),
        fine_names=fine,
        fine_truth=loaded.labels[:, [loaded.heads.index(n) for n in fine]],
        fine_scores=np.array([category_row(r, fine) for r in results]),
    )


def evaluate(data: Path, model: Path, split: str = "dev") -> dict[str, list[ClassScore]]:
    """Per-class precision, recall and F1 at the Ekman and the 28-label level."""
    scored = score(data, model, split)
    return {
        "ekman": class_scores(
            list(EKMAN_FIELDS), scored.ekman_truth, scored.ekman_scores >= PRESENT
        ),
        "original": class_scores(
            scored.fine_names, scored.fine_truth, scored.fine_scores >= PRESENT
        ),
    }


def reliability(scored: Scored, bins: int = 10) -> list[tuple[float, float, float, int]]:
    """Ekman-level scores pooled over the seven fields: per score bin, its range start,
    the mean score and the share of texts that really had the label, and the count."""
    scores, truth = scored.ekman_scores.ravel(), scored.ekman_truth.ravel()
    rows = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = (scores >= low) & ((scores < high) if b < bins - 1 else (scores <= high))
        if inside.any():
            rows.append(
                (low, float(scores[inside].mean()), float(truth[inside].mean()), int(inside.sum()))
            )
    return rows


def cross_fitted_macro_f1(data: Path, model: Path, split: str = "dev", seed: int = 2020) -> float:
    """Ekman macro-F1 with each head's calibration refitted on the other half of the split.

    The shipped calibration never saw the split (it is fitted on train, out of fold); this
    shows, for comparison, what a calibration fitted on the split itself would score on
    texts it did not see.
    """
    loaded = load_split(data, split)
    shipped = load_model(model)
    columns = [shipped.heads.index(f"ekman:{name}") for name in EKMAN_FIELDS]
    decisions = np.array([shipped.decision(text)[columns] for text in loaded.texts])
    truth = loaded.labels[:, [loaded.heads.index(f"ekman:{n}") for n in EKMAN_FIELDS]]
    halves = np.array_split(np.random.default_rng(seed).permutation(len(loaded.texts)), 2)
    present = np.zeros(truth.shape, dtype=bool)
    for held, fitted in ((halves[0], halves[1]), (halves[1], halves[0])):
        for k in range(len(columns)):
            slope, offset = calibration(decisions[fitted, k], truth[fitted, k])
            present[held, k] = slope * decisions[held, k] + offset >= 0
    return macro_f1(class_scores(list(EKMAN_FIELDS), truth, present))


def macro_f1(scores: list[ClassScore]) -> float:
    return float(np.mean([s.f1 for s in scores]))


def report(data: Path, model: Path, split: str = "dev") -> None:
    analyzer = EmotionAnalyzer(model)
    info = analyzer.info
    print(f"model {info.lexicon}\nfile {model} sha256 {info.model_sha256}\nsplit {split}\n")
    scored = score(data, model, split)
    found = {
        "ekman": class_scores(
            list(EKMAN_FIELDS), scored.ekman_truth, scored.ekman_scores >= PRESENT
        ),
        "original": class_scores(
            scored.fine_names, scored.fine_truth, scored.fine_scores >= PRESENT
        ),
    }
    print(f"{'Ekman level':<16} {'support':>7} {'precision':>9} {'recall':>7} {'F1':>6}")
    for s in found["ekman"]:
        print(f"{s.name:<16} {s.support:>7} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f}")
    print(f"{'macro-F1':<16} {'':>7} {'':>9} {'':>7} {macro_f1(found['ekman']):>6.3f}")
    honest = cross_fitted_macro_f1(data, model, split)
    print(
        f"macro-F1 with calibration refitted on the other half of {split} (2-fold),"
        f" for comparison: {honest:.3f}\n"
    )
    print(f"{'28 labels':<16} {'support':>7} {'precision':>9} {'recall':>7} {'F1':>6}")
    for s in found["original"]:
        print(f"{s.name:<16} {s.support:>7} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f}")
    print(f"{'macro-F1':<16} {'':>7} {'':>9} {'':>7} {macro_f1(found['original']):>6.3f}\n")
    brier = float(np.mean((scored.ekman_scores - scored.ekman_truth) ** 2))
    print(f"calibration, Ekman level (7 fields pooled; Brier score {brier:.4f})")
    print(f"{'scores in':<12} {'mean score':>10} {'share true':>10} {'count':>7}")
    for low, mean, share, count in reliability(scored):
        print(f"[{low:.1f}, {low + 0.1:.1f}) {mean:>10.3f} {share:>10.3f} {count:>7}")
