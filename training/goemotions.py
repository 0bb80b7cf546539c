"""Train the emotion model on GoEmotions and evaluate it (``make model``, ``make model-eval``).

    python -m training.goemotions train --data ../shared/data/goemotions
    python -m training.goemotions eval --data ../shared/data/goemotions

Everything is fitted on the train split: each head is the average of the heads fitted on the
``folds`` folds' complements, and is calibrated on their out-of-fold scores. The dev split only
chose the few settings in ``TrainConfig`` and never trains. Everything random is seeded, so the
same data gives the same model file, byte for byte.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from server.domain.analyzers.emotion_model import MODEL_FILE, encode_terms, save_model

FloatArray = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int8]

MODEL_NAME = "goemotions-tfidf-logreg"
# Bump whenever the model's outputs could change: results are cached under it.
MODEL_VERSION = "1.1.0"
DATASET = "GoEmotions (Demszky et al., ACL 2020), Google, CC BY 4.0"


@dataclass(frozen=True)
class TrainConfig:
    """The settings of the shipped model, chosen by macro-F1 on the dev split."""

    seed: int = 2020
    c: float = 2.0  # inverse L2 regularisation of every head
    nb_alpha: float = 1.0  # smoothing of the NB log-count ratios (0: plain logistic regression)
    nb_weight: float = 0.5  # weight of the NB-LR head against a plain one fitted alongside
    # Runs of letters, digits or underscores, and every other non-space character on its
    # own ("!", "?", emoji): punctuation and emoji carry emotion.
    token_pattern: str = r"(?u)\b\w+\b|[^\w\s]"  # noqa: S105 - a regular expression
    word_ngrams: tuple[int, int] = (1, 2)
    word_min_df: int = 2
    char_ngrams: tuple[int, int] | None = (2, 5)
    char_min_df: int = 3
    common_words: int = 20_000  # the train split's commonest words, tabled at load for speed
    folds: int = 5  # fold models averaged into the shipped heads, calibrated out of fold
    jobs: int = -1  # heads are fitted in parallel; each fit is single-threaded and seeded


@dataclass(frozen=True)
class Split:
    texts: list[str]
    labels: Labels  # (texts, heads): the 28 original labels, then the 7 Ekman ones
    heads: list[str] = field(default_factory=list)


def read_labels(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _read_tsv(path: Path) -> tuple[list[str], list[list[int]], list[str]]:
    texts, labels, ids = [], [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}:{number}: expected text, labels and id")
        texts.append(parts[0])
        labels.append([int(label) for label in parts[1].split(",")])
        ids.append(parts[2])
    return texts, labels, ids


def load_split(data: Path, split: str) -> Split:
    """One split in both taxonomies, checked to hold the same comments in the same order."""
    original, ekman = (
        read_labels(data / "original/labels.txt"),
        read_labels(data / "ekman/labels.txt"),
    )
    texts, fine, ids = _read_tsv(data / f"original/{split}.tsv")
    ekman_texts, coarse, ekman_ids = _read_tsv(data / f"ekman/{split}.tsv")
    if ids != ekman_ids or texts != ekman_texts:
        raise ValueError(f"{split}: the original and ekman files hold different comments")
    labels = np.zeros((len(texts), len(original) + len(ekman)), dtype=np.int8)
    for row, (a, b) in enumerate(zip(fine, coarse, strict=True)):
        labels[row, a] = 1
        labels[row, [len(original) + i for i in b]] = 1
    return Split(texts, labels, [*original, *(f"ekman:{name}" for name in ekman)])


def vectorisers(config: TrainConfig) -> list[TfidfVectorizer]:
    found = [
        TfidfVectorizer(
            token_pattern=config.token_pattern,
            ngram_range=config.word_ngrams,
            min_df=config.word_min_df,
            sublinear_tf=True,
            dtype=np.float64,
        )
    ]
    if config.char_ngrams:
        found.append(
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=config.char_ngrams,
                min_df=config.char_min_df,
                sublinear_tf=True,
                dtype=np.float64,
            )
        )
    return found


def common_words(texts: Sequence[str], count: int) -> list[str]:
    """The ``count`` lower-cased whitespace-separated words in most texts (ties by word)."""
    seen: Counter[str] = Counter()
    for text in texts:
        seen.update(set(text.lower().split()))
    return sorted(seen, key=lambda word: (-seen[word], word))[:count]


def features(fitted: Sequence[TfidfVectorizer], texts: Sequence[str]) -> sparse.csr_matrix:
    return sparse.hstack([v.transform(texts) for v in fitted], format="csr")


def nb_ratios(x: sparse.csr_matrix, y: Labels, alpha: float) -> FloatArray:
    """Naive Bayes log-count ratios of the features for one label (Wang and Manning, 2012)."""
    positive = alpha + np.asarray(x[y == 1].sum(axis=0)).ravel()
    negative = alpha + np.asarray(x[y == 0].sum(axis=0)).ravel()
    ratios: FloatArray = np.log((positive / positive.sum()) / (negative / negative.sum()))
    return ratios


def fit_head(x: sparse.csr_matrix, y: Labels, config: TrainConfig) -> tuple[FloatArray, float]:
    """One binary logistic regression on NB-scaled features: its coefficients and intercept.

    The features are scaled by the label's NB log-count ratios before the fit (NB-LR), and
    the ratios folded back into the coefficients, so the head stays one linear function of
    the TF-IDF vector: ``x @ (ratios * w) + b``.
    """
    if y.min() == y.max():  # a label absent from (a fold of) a small sample: a constant head
        return np.zeros(x.shape[1]), (30.0 if y[0] else -30.0)
    ratios = nb_ratios(x, y, config.nb_alpha) if config.nb_alpha else np.ones(x.shape[1])
    coef, intercept = _logistic(x.multiply(ratios).tocsr(), y, config)
    coef *= ratios
    if config.nb_weight < 1:  # mixed with a plain logistic regression, as in NBSVM
        plain_coef, plain_intercept = _logistic(x, y, config)
        coef = config.nb_weight * coef + (1 - config.nb_weight) * plain_coef
        intercept = config.nb_weight * intercept + (1 - config.nb_weight) * plain_intercept
    return coef, intercept


def _logistic(x: sparse.csr_matrix, y: Labels, config: TrainConfig) -> tuple[FloatArray, float]:
    # The dual problem is the faster one with more features than texts; liblinear's
    # coordinate order is random, hence the seed.
    model = LogisticRegression(C=config.c, solver="liblinear", dual=True, random_state=config.seed)
    model.fit(x, y)
    return model.coef_[0].astype(np.float64), float(model.intercept_[0])


def fold_heads(
    x: sparse.csr_matrix, labels: Labels, config: TrainConfig
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Every head fitted on each fold's complement (heads are columns of the coefficients).

    Returns the fold models' average, coefficients (features, heads) and intercepts, and the
    out-of-fold decision values: each text scored by the fold model that never saw it, which
    is what the calibration is fitted on.
    """
    order = np.random.default_rng(config.seed).permutation(x.shape[0])
    held = np.array_split(order, config.folds)
    rows = [np.sort(np.concatenate(held[:k] + held[k + 1 :])) for k in range(config.folds)]
    parts = [x[r] for r in rows]
    fitted = Parallel(n_jobs=config.jobs)(
        delayed(fit_head)(parts[k], labels[rows[k], h], config)
        for k in range(config.folds)
        for h in range(labels.shape[1])
    )
    heads = labels.shape[1]
    coef = np.zeros((x.shape[1], heads))
    intercept = np.zeros(heads)
    out_of_fold = np.zeros(labels.shape)
    for k in range(config.folds):
        fold = fitted[k * heads : (k + 1) * heads]
        fold_coef = np.stack([c for c, _ in fold], axis=1)
        fold_intercept = np.array([b for _, b in fold])
        out_of_fold[held[k]] = x[held[k]] @ fold_coef + fold_intercept
        coef += fold_coef / config.folds
        intercept += fold_intercept / config.folds
    # Rounded to float32 here, so that the sklearn reference sees the coefficients exactly
    # as the model file stores them.
    return coef.astype(np.float32).astype(np.float64), intercept, out_of_fold


def calibration(decision: FloatArray, y: Labels) -> tuple[float, float]:
    """Platt scaling of one head, with its offset moved so 0.5 is the F1-best threshold.

    ``sigmoid(slope * z + platt_offset)`` is the calibrated probability on the texts given
    (the train split's out-of-fold scores); of all thresholds on it, the one that maximises
    F1 there is mapped to 0.5, so that "score >= 0.5 means present" is the head's best
    decision rule.
    """
    if y.min() == y.max():
        return 1.0, 0.0
    platt = LogisticRegression(C=1e4, solver="lbfgs").fit(decision.reshape(-1, 1), y)
    slope, platt_offset = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    z = slope * decision + platt_offset
    order = np.argsort(-z, kind="stable")
    ranked = z[order]
    true_positives = np.cumsum(y[order])
    f1 = 2 * true_positives / (np.arange(1, len(z) + 1) + y.sum())
    # Cut only between distinct values: texts with equal scores must get the same answer.
    cuttable = np.append(ranked[:-1] > ranked[1:], True)
    best = int(np.argmax(np.where(cuttable, f1, -1.0)))
    below = ranked[best + 1] if best + 1 < len(ranked) else ranked[best] - 1.0
    threshold = (ranked[best] + below) / 2  # in logit space, halfway between the two texts
    return slope, platt_offset - float(threshold)


@dataclass(frozen=True)
class FittedModel:
    """What training produces: the fitted vectorisers, every head and its calibration, and
    the train split's out-of-fold decision values that the calibration was fitted on."""

    heads: list[str]
    vectorisers: list[TfidfVectorizer]
    coef: FloatArray  # (features, heads), float32 values: what the model file holds
    intercept: FloatArray
    slope: FloatArray
    offset: FloatArray
    config: TrainConfig
    texts: int
    words: list[str]
    out_of_fold: FloatArray = field(repr=False)

    def decision(self, texts: Sequence[str]) -> FloatArray:
        """scikit-learn's decision values: the reference the shipped inference must match."""
        result: FloatArray = features(self.vectorisers, texts) @ self.coef + self.intercept
        return result


def fit(train: Split, config: TrainConfig) -> FittedModel:
    """Fit every head on the train split and calibrate it on its out-of-fold scores there."""
    # BLAS threads only contend here: the work is many small fits, spread by joblib.
    with threadpool_limits(1):
        fitted = vectorisers(config)
        x = sparse.hstack([v.fit_transform(train.texts) for v in fitted], format="csr")
        # Canonical (sorted) now: the workers get it read-only, and must not sort it there.
        x.sum_duplicates()
        coef, intercept, out_of_fold = fold_heads(x, train.labels, config)
        slopes, offsets = zip(
            *(calibration(out_of_fold[:, k], train.labels[:, k]) for k in range(len(train.heads))),
            strict=True,
        )
    return FittedModel(
        train.heads, fitted, coef, intercept, np.array(slopes), np.array(offsets), config,
        len(train.texts), common_words(train.texts, config.common_words), out_of_fold,
    )  # fmt: skip


def export(model: FittedModel, out: Path) -> str:
    """Write only what inference needs; returns the file's SHA-256."""
    arrays: dict[str, npt.NDArray[Any]] = {
        "coef": model.coef.astype(np.float32),
        "intercept": model.intercept,
        "slope": model.slope,
        "offset": model.offset,
        "words": encode_terms(model.words),
    }
    specs = []
    for i, vectoriser in enumerate(model.vectorisers):
        arrays[f"vocabulary_{i}"] = encode_terms(list(vectoriser.get_feature_names_out()))
        arrays[f"idf_{i}"] = vectoriser.idf_.astype(np.float64)
        specs.append(
            {
                "kind": vectoriser.analyzer,
                "ngram_range": list(vectoriser.ngram_range),
                "token_pattern": vectoriser.token_pattern if vectoriser.analyzer == "word" else "",
            }
        )
    meta = {
        "name": MODEL_NAME,
        "version": MODEL_VERSION,
        "dataset": DATASET,
        "heads": model.heads,
        "vectorisers": specs,
        "training": {**asdict(model.config), "jobs": None, "texts": model.texts},
        "trained_with": _versions(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_model(out, arrays, meta)


def train(data: Path, out: Path, config: TrainConfig) -> str:
    """Fit and calibrate on the train split, write the model file; returns its SHA-256."""
    return export(fit(load_split(data, "train"), config), out)


def out_of_fold_macro_f1(model: FittedModel, train: Split) -> float:
    """Ekman macro-F1 of the calibrated out-of-fold scores on train, each text scored by a
    fold model that never saw it (the thresholds themselves were fitted on these scores)."""
    columns = [model.heads.index(h) for h in train.heads if h.startswith("ekman:")]
    z = model.slope[columns] * model.out_of_fold[:, columns] + model.offset[columns]
    truth, present = train.labels[:, columns].astype(bool), z >= 0
    f1 = 2 * (truth & present).sum(axis=0) / np.maximum(truth.sum(axis=0) + present.sum(axis=0), 1)
    return float(f1.mean())


def _versions() -> dict[str, str]:
    import scipy  # noqa: PLC0415
    import sklearn  # noqa: PLC0415

    return {
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.goemotions", description=__doc__)
    parser.add_argument("command", choices=["train", "eval"])
    parser.add_argument("--data", type=Path, required=True, help="the goemotions folder")
    parser.add_argument("--model", type=Path, default=MODEL_FILE, help="the model file")
    args = parser.parse_args(argv)
    if args.command == "train":
        split = load_split(args.data, "train")
        model = fit(split, TrainConfig())
        digest = export(model, args.model)
        size = args.model.stat().st_size / 1e6
        print(f"wrote {args.model} ({size:.1f} MB), sha256 {digest}")
        print(f"Ekman macro-F1 on train, out of fold: {out_of_fold_macro_f1(model, split):.3f}")
        return 0
    from training import evaluate  # noqa: PLC0415

    evaluate.report(args.data, args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
