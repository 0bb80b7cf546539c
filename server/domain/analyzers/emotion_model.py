"""The emotion model file: TF-IDF vocabularies and stacked linear heads, scored with numpy.

The model is trained with scikit-learn (``training/goemotions.py``), but only what inference
needs is shipped: each vectoriser's vocabulary and idf weights, the coefficients of every
head stacked into one matrix, the intercepts and the calibration. Scoring a text is its
sparse TF-IDF row times that matrix, done as one gather-and-sum over the text's features,
which is what scikit-learn's ``decision_function`` computes, without its per-call overhead.

The file is an ``.npz`` (a zip of ``.npy`` arrays) written with fixed timestamps and a fixed
member order, so that the same model always gives the same bytes and the same SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

MODEL_FILE = Path(__file__).parent / "data" / "goemotions-emotion.npz"
_COMMON_WORDS = 4000  # the words also tabled with "," and "." attached
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's own, used by its char_wb analyzer


@dataclass(frozen=True, slots=True)
class Vectoriser:
    """One scikit-learn ``TfidfVectorizer`` (lowercase, sublinear tf, l2 norm), as data.

    ``kind`` is "word" (``token_pattern`` tokens, n-grams joined by one space) or "char_wb"
    (character n-grams inside space-padded words), exactly as scikit-learn builds them.
    """

    kind: str
    ngram_range: tuple[int, int]
    token_pattern: str
    vocabulary: Mapping[str, int]
    idf: FloatArray
    offset: int  # where this vectoriser's columns start in the stacked coefficients
    # char_wb only: the known n-gram columns of common words, worked out once at load, so
    # that a text costs a lookup per word rather than one per character n-gram. Built from
    # the model alone, never from texts seen, so no caller's text changes another's timing.
    word_columns: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("word", "char_wb"):
            raise ValueError(f"unknown vectoriser kind {self.kind!r}")

    def tokens(self, lowered: str) -> list[str]:
        return _compiled(self.token_pattern).findall(lowered)

    def terms(self, lowered: str) -> list[str]:
        """The n-grams of an already lower-cased text, repeats included, in text order."""
        if self.kind == "word":
            return _word_ngrams(self.tokens(lowered), *self.ngram_range)
        return _char_wb_ngrams(lowered, *self.ngram_range)

    def known(self, grams: Iterable[str]) -> list[int]:
        """The stacked-coefficient columns of the grams in the vocabulary, repeats kept."""
        get, offset = self.vocabulary.get, self.offset
        return [i + offset for i in map(get, grams) if i is not None]

    def add_columns(self, lowered: str, found: list[int]) -> int:
        """Append the columns of the text's known n-grams (once per occurrence) to ``found``.

        Returns the number of the text's single tokens the vocabulary knows (word kind).
        """
        if self.kind == "word":
            tokens = self.tokens(lowered)
            unigrams = self.known(tokens) if self.ngram_range[0] == 1 else []
            found.extend(unigrams)
            found.extend(
                self.known(_word_ngrams(tokens, max(2, self.ngram_range[0]), self.ngram_range[1]))
            )
            return len(unigrams)
        low, high = self.ngram_range
        table = self.word_columns
        for word in _WHITE_SPACES.sub(" ", lowered).split():
            columns = table.get(word)
            found.extend(
                self.known(_padded_ngrams(word, low, high)) if columns is None else columns
            )
        return 0

    def with_word_table(self, words: Iterable[str]) -> Vectoriser:
        """This char_wb vectoriser with the columns of these words worked out in advance."""
        low, high = self.ngram_range
        table = {word: tuple(self.known(_padded_ngrams(word, low, high))) for word in words}
        return replace(self, word_columns=table)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _word_ngrams(tokens: list[str], low: int, high: int) -> list[str]:
    """scikit-learn's ``_word_ngrams``: the n-grams for n in [low, high], space-joined."""
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), high + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """scikit-learn's ``_char_wb_ngrams``: character n-grams of each space-padded word."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        grams.extend(_padded_ngrams(word, low, high))
    return grams


def _padded_ngrams(word: str, low: int, high: int) -> list[str]:
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(low, high + 1):
        if size <= n:  # the whole padded word, counted once for all the larger n
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


@dataclass(frozen=True)
class EmotionModel:
    """Linear heads over TF-IDF features, each calibrated to a probability.

    ``heads`` names the columns of ``coef``: the 28 GoEmotions labels, then the seven Ekman
    labels. ``decision`` gives each head's raw score (scikit-learn's ``decision_function``);
    ``probabilities`` applies each head's calibration, ``sigmoid(slope * z + offset)``.
    """

    meta: Mapping[str, Any]
    vectorisers: tuple[Vectoriser, ...]
    coef: FloatArray  # (features, heads)
    intercept: FloatArray  # (heads,)
    slope: FloatArray  # (heads,)
    offset: FloatArray  # (heads,)
    sha256: str
    # Worked out once from the vectorisers: the idf weights of every column, and where
    # each vectoriser after the first starts.
    _idf: FloatArray = field(init=False, repr=False)
    _starts: IntArray = field(init=False, repr=False)

    @property
    def heads(self) -> list[str]:
        return list(self.meta["heads"])

    def __post_init__(self) -> None:
        object.__setattr__(self, "_idf", np.concatenate([v.idf for v in self.vectorisers]))
        starts = np.array([v.offset for v in self.vectorisers[1:]], dtype=np.intp)
        object.__setattr__(self, "_starts", starts)

    def features(self, text: str) -> tuple[IntArray, FloatArray, int]:
        """The text's TF-IDF row (columns and values, each vectoriser's part of unit length)
        and how many of its word tokens the word vocabulary knows."""
        lowered = text.lower()
        found: list[int] = []
        known_words = sum(v.add_columns(lowered, found) for v in self.vectorisers)
        # One count over all the columns, then each vectoriser's part normalised apart.
        columns, counts = np.unique(np.array(found, dtype=np.intp), return_counts=True)
        values = (np.log(counts) + 1.0) * self._idf[columns]
        part = np.searchsorted(self._starts, columns, side="right")
        norms = np.sqrt(np.bincount(part, weights=values * values, minlength=len(self.vectorisers)))
        values /= norms[part]
        return columns, values, known_words

    def decision(self, text: str) -> FloatArray:
        """Each head's raw linear score for the text (scikit-learn's decision_function)."""
        columns, values, _ = self.features(text)
        result: FloatArray = values @ self.coef[columns] + self.intercept
        return result

    def score(self, text: str) -> tuple[FloatArray, int]:
        """Each head's calibrated probability, and the count of known word tokens."""
        columns, values, known_words = self.features(text)
        decision = values @ self.coef[columns] + self.intercept
        return calibrate(decision, self.slope, self.offset), known_words

    def probabilities(self, text: str) -> FloatArray:
        """Each head's calibrated probability for the text."""
        return calibrate(self.decision(text), self.slope, self.offset)


def calibrate(decision: FloatArray, slope: FloatArray, offset: FloatArray) -> FloatArray:
    """``sigmoid(slope * decision + offset)``, written with tanh, which cannot overflow."""
    result: FloatArray = 0.5 + 0.5 * np.tanh(0.5 * (slope * decision + offset))
    return result


def save_model(path: Path, arrays: Mapping[str, npt.NDArray[Any]], meta: Mapping[str, Any]) -> str:
    """Write the model file byte for byte reproducibly; returns its SHA-256."""
    members = dict(arrays)
    members["meta"] = np.frombuffer(
        json.dumps(meta, sort_keys=True, ensure_ascii=False).encode(), dtype=np.uint8
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            array = io.BytesIO()
            np.lib.format.write_array(array, np.ascontiguousarray(members[name]))
            archive.writestr(entry, array.getvalue(), compresslevel=9)
    data = buffer.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def encode_terms(terms: Sequence[str]) -> npt.NDArray[np.uint8]:
    """A vocabulary in column order as one UTF-8 byte array, one term a line."""
    if any("\n" in term for term in terms):
        raise ValueError("a vocabulary term contains a newline")
    return np.frombuffer("\n".join(terms).encode(), dtype=np.uint8)


def load_model(path: Path) -> EmotionModel:
    data = path.read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta: dict[str, Any] = json.loads(arrays["meta"].tobytes().decode())
    vectorisers = []
    offset = 0
    for i, spec in enumerate(meta["vectorisers"]):
        terms = arrays[f"vocabulary_{i}"].tobytes().decode().split("\n")
        vectorisers.append(
            Vectoriser(
                kind=spec["kind"],
                ngram_range=(int(spec["ngram_range"][0]), int(spec["ngram_range"][1])),
                token_pattern=spec["token_pattern"],
                vocabulary={term: column for column, term in enumerate(terms)},
                idf=arrays[f"idf_{i}"].astype(np.float64),
                offset=offset,
            )
        )
        offset += len(terms)
    # Single words of the word vocabulary: the words texts are mostly made of; the most
    # frequent of them also as they often end a clause or sentence ("it.", "me,").
    words = [t for v in vectorisers if v.kind == "word" for t in v.vocabulary if " " not in t]
    word = next((v for v in vectorisers if v.kind == "word"), None)
    if word is not None:
        ranked = sorted(words, key=lambda t: (word.idf[word.vocabulary[t]], t))
        words += [t + mark for t in ranked[:_COMMON_WORDS] for mark in ",."]
    vectorisers = [v.with_word_table(words) if v.kind == "char_wb" else v for v in vectorisers]
    coef = arrays["coef"].astype(np.float64)
    if coef.shape != (offset, len(meta["heads"])):
        raise ValueError(f"model file {path.name}: coefficients do not match the vocabularies")
    return EmotionModel(
        meta=meta,
        vectorisers=tuple(vectorisers),
        coef=coef,
        intercept=arrays["intercept"].astype(np.float64),
        slope=arrays["slope"].astype(np.float64),
        offset=arrays["offset"].astype(np.float64),
        sha256=hashlib.sha256(data).hexdigest(),
    )
