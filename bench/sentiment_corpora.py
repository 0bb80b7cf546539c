"""Sentiment against human ratings: VADER's own corpora, and long texts built from them.

    .venv/bin/python bench/sentiment_corpora.py [DIR]

Hutto & Gilbert (ICWSM 2014) rated tweets, movie-review snippets, Amazon review snippets
and New York Times editorial snippets by 20 people each. The corpora travel in the
vaderSentiment source distribution (additional_resources/hutto_ICWSM_2014.tar.gz); DIR is
where they are unpacked, and they are fetched with ``pip download`` (PyPI) when missing.
Nothing here runs in the tests or the server.

Every snippet is under the analyzer's whole-text bound, so its score is VADER's compound and
the correlations equal VADER's by construction. Long texts are the Amazon reviews and NYT
editorials put back together from their snippets (ids ``doc_sentence``), rated by the mean
of their snippets' ratings; on them the script compares ways of scoring a long text.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from server.domain.analyzers.sentiment import SentimentAnalyzer
from server.domain.analyzers.vader import Valence, combine, normalize

CORPORA = ("tweets", "movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets")
DEFAULT_DIR = Path(tempfile.gettempdir()) / "textlens-vader-corpora"


def fetch(directory: Path) -> Path:
    """The unpacked hutto_ICWSM_2014 folder, downloading the sdist from PyPI if needed."""
    folder = directory / "hutto_ICWSM_2014"
    if (folder / "tweets_GroundTruth.txt").exists():
        return folder
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         "vaderSentiment==3.3.2", "-d", str(directory)],
        check=True,
    )  # fmt: skip
    with tarfile.open(directory / "vaderSentiment-3.3.2.tar.gz") as sdist:
        member = sdist.extractfile(
            "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
        )
        assert member is not None
        with tarfile.open(fileobj=member) as inner:
            inner.extractall(directory, filter="data")
    return folder


def read(folder: Path, name: str) -> list[tuple[str, float, str]]:
    rows = []
    with open(folder / f"{name}_GroundTruth.txt", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                rows.append((parts[0], float(parts[1]), parts[2]))
    return rows


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    return statistics.correlation(xs, ys)


def three_class(score: float, rating: float) -> bool:
    """VADER's ±0.05 bands against the sign of the mean human rating (0 neutral)."""
    ours = (score >= 0.05) - (score <= -0.05)
    theirs = (rating > 0) - (rating < 0)
    return ours == theirs


ANALYZER = SentimentAnalyzer()
VADER = ANALYZER._vader


def _pieces(text: str) -> list[Valence]:
    return [VADER.score(text[s:e]) for s, e in ANALYZER.spans(text)]


def weighted_mean(text: str) -> float:
    spans = ANALYZER.spans(text)
    scores = [VADER.score(text[s:e]).compound for s, e in spans]
    lengths = [e - s for s, e in spans]
    return math.fsum(n * s for n, s in zip(lengths, scores, strict=True)) / sum(lengths)


def summed(text: str) -> float:
    return combine(_pieces(text)).compound


def whole_text(text: str) -> float:
    return VADER.score(text).compound


def damped_sum(text: str) -> float:
    pieces = _pieces(text)
    total = combine(pieces).total / math.sqrt(len(pieces))
    return round(normalize(total), 4)


METHODS: dict[str, Callable[[str], float]] = {
    "length-weighted mean of sentence compounds (1.0.0)": weighted_mean,
    "normalize(sum of sentence valences)": summed,
    "VADER on the whole text": whole_text,
    "normalize(sum / sqrt(sentences))": damped_sum,
}


GOEMOTIONS = Path("/work/shared/data/goemotions/original")
# The GoEmotions paper's grouping of its categories by sentiment.
POSITIVE = {"admiration", "amusement", "approval", "caring", "desire", "excitement",
            "gratitude", "joy", "love", "optimism", "pride", "relief"}  # fmt: skip
NEGATIVE = {"anger", "annoyance", "disappointment", "disapproval", "disgust", "embarrassment",
            "fear", "grief", "nervousness", "remorse", "sadness"}  # fmt: skip


def goemotions_long_texts(folder: Path = GOEMOTIONS) -> list[tuple[int, str]]:
    """(polarity, text) of texts over 1,000 characters: comments of one polarity (all their
    labels positive, or all negative) alternating with neutral comments, in file order."""
    labels = (folder / "labels.txt").read_text().split()
    groups: dict[str, list[str]] = {"positive": [], "negative": [], "neutral": []}
    for line in (folder / "dev.tsv").read_text(encoding="utf-8").splitlines():
        text, ids, _ = line.split("\t")
        names = {labels[int(i)] for i in ids.split(",")}
        kind = ("positive" if names <= POSITIVE else "negative" if names <= NEGATIVE
                else "neutral" if names == {"neutral"} else None)  # fmt: skip
        if kind and text.rstrip()[-1:] in ".!?":
            groups[kind].append(text.strip())
    texts: list[tuple[int, str]] = []
    neutral = iter(groups["neutral"])
    for polarity, kind in ((1, "positive"), (-1, "negative")):
        parts: list[str] = []
        for comment in groups[kind]:
            parts += [comment, next(neutral, "")]
            if sum(map(len, parts)) > 1_200:
                texts.append((polarity, " ".join(p for p in parts if p)))
                parts = []
    return texts


def main(directory: Path = DEFAULT_DIR) -> None:
    folder = fetch(directory)
    vader = SentimentIntensityAnalyzer()
    print("Snippets (all under the whole-text bound): Pearson r with the mean rating, 3-class")
    for name in CORPORA:
        rows = read(folder, name)
        ratings = [r for _, r, _ in rows]
        ours = [ANALYZER.analyze(t.strip()).score if t.strip() else 0.0 for _, _, t in rows]
        theirs = [vader.polarity_scores(t)["compound"] for _, _, t in rows]
        same = sum(a == b for a, b in zip(ours, theirs, strict=True))
        print(f"  {name:22s} n={len(rows):6d}  TextLens r={pearson(ours, ratings):.4f}"
              f"  VADER r={pearson(theirs, ratings):.4f}"
              f"  3-class {statistics.mean(map(three_class, ours, ratings)):.3f}"
              f" / {statistics.mean(map(three_class, theirs, ratings)):.3f}"
              f"  identical {same}/{len(rows)}")  # fmt: skip
    print("\nLong texts rebuilt from snippets (over 1,000 characters), rated by the snippets' mean")
    for name in ("amazonReviewSnippets", "nytEditorialSnippets"):
        docs: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for key, rating, text in read(folder, name):
            docs[key.split("_")[0]].append((rating, text.strip()))
        long = [
            (statistics.mean(r for r, _ in parts), " ".join(t for _, t in parts))
            for parts in docs.values()
        ]
        long = [(r, t) for r, t in long if len(t) > 1_000]
        ratings = [r for r, _ in long]
        clear = [(r, t) for r, t in long if abs(r) >= 0.5]
        print(f"  {name} ({len(long)} texts, {len(clear)} with |mean rating| >= 0.5)")
        for method, score in METHODS.items():
            scores = [score(t) for _, t in long]
            sign = statistics.mean((score(t) > 0) == (r > 0) for r, t in clear)
            strength = statistics.mean(abs(score(t)) for _, t in clear)
            print(f"    {method:52s} r={pearson(scores, ratings):.4f}"
                  f"  3-class {statistics.mean(map(three_class, scores, ratings)):.3f}"
                  f"  sign on clear {sign:.3f}  mean |score| on clear {strength:.3f}")  # fmt: skip

    if GOEMOTIONS.exists():
        long_texts = goemotions_long_texts()
        reference = [whole_text(t) for _, t in long_texts]
        print(f"\nGoEmotions dev: {len(long_texts)} long texts, half their comments of one "
              "polarity, half neutral")  # fmt: skip
        for method, score in METHODS.items():
            scores = [score(t) for _, t in long_texts]
            pairs = zip(scores, long_texts, strict=True)
            sign = statistics.mean((s > 0) == (p > 0) for s, (p, _) in pairs)
            strength = statistics.mean(abs(s) for s in scores)
            print(f"    {method:52s} r with whole-text VADER={pearson(scores, reference):.4f}"
                  f"  sign {sign:.3f}  mean |score| {strength:.3f}")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR)
