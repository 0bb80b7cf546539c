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
import itertools
import json
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import InitVar, dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

MODEL_FILE = Path(__file__).parent / "data" / "goemotions-emotion.npz"
_COMMON_WORDS = 4000  # the words also tabled with "," and "." attached
_NO_COLUMNS: npt.NDArray[np.intp] = np.empty(0, dtype=np.intp)
_SLICED_SIZES = 64  # padded word lengths whose n-gram slices are made once, at load
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


@dataclass(frozen=True, slots=True)
class Vectoriser:
    """One scikit-learn ``TfidfVectorizer`` (lowercase, sublinear tf, l2 norm), as data.

    ``kind`` is "word" (``token_pattern`` tokens, n-grams joined by one space) or "char_wb"
    (character n-grams inside space-padded words), exactly as scikit-learn builds them.
    ``vocabulary`` maps each term to its column in the stacked coefficients, which start at
    ``offset`` for this vectoriser; ``unknown`` is the column given to terms it lacks, one
    past the last column of every vectoriser, so that the lookups run without a branch.
    """

    kind: str
    ngram_range: tuple[int, int]
    token_pattern: str
    vocabulary: Mapping[str, int]
    idf: FloatArray
    offset: int
    unknown: int
    # char_wb only: the known n-gram columns of common words, worked out once at load, so
    # that a text costs a lookup per word rather than one per character n-gram. Built from
    # the model alone, never from texts seen, so no caller's text changes another's timing.
    word_columns: Mapping[str, IntArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("word", "char_wb"):
            raise ValueError(f"unknown vectoriser kind {self.kind!r}")

    def collect(self, lowered: str, pieces: list[IntArray]) -> int:
        """Append to ``pieces`` the columns of an already lower-cased text's n-grams, once
        per occurrence, ``unknown`` for those not in the vocabulary.

        Returns the number of the text's single tokens the vocabulary knows (word kind).
        """
        get, unknown = self.vocabulary.get, itertools.repeat(self.unknown)
        low, high = self.ngram_range
        found: list[int] = []
        known = 0
        if self.kind == "word":
            tokens = _compiled(self.token_pattern).findall(lowered)
            for n in range(low, high + 1):
                shifted = (tokens[i:] for i in range(n))
                grams = tokens if n == 1 else map(" ".join, zip(*shifted, strict=False))
                found.extend(map(get, grams, unknown))
                if n == 1:
                    known = len(found) - found.count(self.unknown)
        else:
            # split() is scikit-learn's whitespace collapsing and split in one step.
            words, table = lowered.split(), self.word_columns
            pieces.extend(map(table.get, words, itertools.repeat(_NO_COLUMNS)))
            for word in itertools.filterfalse(table.__contains__, words):
                found.extend(map(get, _padded_ngrams(word, low, high), unknown))
        pieces.append(np.array(found, dtype=np.intp))
        return known

    def with_word_table(self, words: Iterable[str]) -> Vectoriser:
        """This char_wb vectoriser with the columns of these words worked out in advance."""
        low, high = self.ngram_range
        for size in range(1, _SLICED_SIZES + 1):  # made now, so no text pays for them
            _slices(size, low, high)
        get = self.vocabulary.get
        table = {}
        for word in dict.fromkeys(words):  # each once, in order
            columns = map(get, _padded_ngrams(word, low, high))
            table[word] = np.array([c for c in columns if c is not None], dtype=np.intp)
        return replace(self, word_columns=table)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _padded_ngrams(word: str, low: int, high: int) -> Iterator[str]:
    """scikit-learn's char_wb n-grams of one word, cut by slices worked out per length."""
    padded = f" {word} "
    size = len(padded)
    slices = _slices(size, low, high) if size <= _SLICED_SIZES else _gram_slices(size, low, high)
    return map(padded.__getitem__, slices)


def _gram_slices(size: int, low: int, high: int) -> tuple[slice, ...]:
    """Where the n-grams (low <= n <= high) of a padded word of ``size`` characters are."""
    found: list[slice] = []
    for n in range(low, high + 1):
        if size <= n:  # the whole padded word, counted once for all the larger n
            found.append(slice(0, size))
            break
        found.extend(slice(i, i + n) for i in range(size - n + 1))
    return tuple(found)


# The usual word lengths' slices, up to _SLICED_SIZES, made once at load (with_word_table).
_slices = cache(_gram_slices)


@dataclass(frozen=True)
class EmotionModel:
    """Linear heads over TF-IDF features, each calibrated to a probability.

    ``heads`` names the columns of ``coef``: the 28 GoEmotions labels, then the seven Ekman
    labels. ``decision`` gives each head's raw score (scikit-learn's ``decision_function``);
    ``probabilities`` applies each head's calibration, ``sigmoid(slope * z + offset)``.
    """

    meta: Mapping[str, Any]
    vectorisers: tuple[Vectoriser, ...]
    # (features, heads), float32 as the file stores them: made into _scoring, and not kept
    # (19 MB); ``coef`` reads them from the file again when asked.
    coefficients: InitVar[npt.NDArray[np.float32]]
    intercept: FloatArray  # (heads,)
    slope: FloatArray  # (heads,)
    offset: FloatArray  # (heads,)
    sha256: str
    path: Path  # the model file, whose SHA-256 is ``sha256``
    # Worked out once from the vectorisers: the idf weights of every column, where the
    # second and later vectorisers' columns start, and the column of unknown n-grams.
    _idf: FloatArray = field(init=False, repr=False)
    _cuts: IntArray = field(init=False, repr=False)
    _unknown: int = field(init=False, repr=False)
    # For score(): each column's idf weight, then its coefficients times half each head's
    # slope, in float32; calibrate()'s sigmoid(slope * (z + intercept) + offset) is then
    # 0.5 + 0.5 * tanh(row · those + _half_offset).
    _scoring: npt.NDArray[np.float32] = field(init=False, repr=False)
    _half_offset: FloatArray = field(init=False, repr=False)

    @property
    def heads(self) -> list[str]:
        return list(self.meta["heads"])

    @cached_property
    def coef(self) -> npt.NDArray[np.float32]:
        """The coefficients as the file stores them, for ``decision`` (the reference that
        scikit-learn's pipeline is checked against), read again: scoring does without."""
        data = self.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise ValueError(f"model file {self.path} changed since it was loaded")
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            coef: npt.NDArray[np.float32] = archive["coef"].astype(np.float32)
        return coef

    def __post_init__(self, coefficients: npt.NDArray[np.float32]) -> None:
        object.__setattr__(self, "_idf", np.concatenate([v.idf for v in self.vectorisers]))
        cuts = np.array([v.offset for v in self.vectorisers[1:]], dtype=np.intp)
        object.__setattr__(self, "_cuts", cuts)
        object.__setattr__(self, "_unknown", self.vectorisers[0].unknown)
        scoring = np.empty((coefficients.shape[0], coefficients.shape[1] + 1), dtype=np.float32)
        scoring[:, 0] = self._idf
        np.multiply(coefficients, 0.5 * self.slope, out=scoring[:, 1:], casting="same_kind")
        object.__setattr__(self, "_scoring", scoring)
        half_offset = 0.5 * (self.slope * self.intercept + self.offset)
        object.__setattr__(self, "_half_offset", half_offset)

    def counts(self, text: str) -> tuple[IntArray, IntArray, int]:
        """The text's known n-gram columns (sorted) with how often each occurs, and how many
        of its word tokens the word vocabulary knows."""
        lowered = text.lower()
        pieces: list[IntArray] = []
        known_words = sum(v.collect(lowered, pieces) for v in self.vectorisers)
        # One count over all the columns: sorted, the runs of one column are its count.
        # A few whole-array operations, where numpy's unique costs several times more.
        found = np.concatenate(pieces)
        found.sort()
        size = len(found)
        edges = np.empty(size + 1, dtype=bool)
        edges[0] = edges[size] = True
        np.not_equal(found[1:], found[:-1], out=edges[1:size])
        starts = np.flatnonzero(edges)
        columns = found.take(starts[:-1])
        counts = starts[1:] - starts[:-1]
        if size and columns[-1] == self._unknown:  # the largest column, when present
            columns, counts = columns[:-1], counts[:-1]
        return columns, counts, known_words

    def features(self, text: str) -> tuple[IntArray, FloatArray, int]:
        """The text's TF-IDF row (columns and values, each vectoriser's part of unit length)
        and how many of its word tokens the word vocabulary knows."""
        columns, counts, known_words = self.counts(text)
        values = np.log(counts)
        values += 1.0
        values *= self._idf[columns]
        _normalise(values, columns, self._cuts)
        return columns, values, known_words

    def decision(self, text: str) -> FloatArray:
        """Each head's raw linear score for the text (scikit-learn's decision_function)."""
        columns, values, _ = self.features(text)
        result: FloatArray = values @ self.coef[columns] + self.intercept
        return result

    def score(self, text: str) -> tuple[FloatArray, int]:
        """Each head's calibrated probability, and the count of known word tokens.

        ``features``, ``decision`` and ``calibrate`` in one pass over the rows of
        ``_scoring``: one gather for the idf weights and the coefficients, calibration's
        affine part folded in, in float32, the coefficients' own precision.
        """
        columns, counts, known_words = self.counts(text)
        rows = self._scoring.take(columns, axis=0)  # a third of indexing's cost
        values = np.log(counts, dtype=np.float32)
        values += 1.0
        values *= rows[:, 0]
        _normalise(values, columns, self._cuts)
        z = values @ rows[:, 1:] + self._half_offset
        np.tanh(z, out=z)
        z *= 0.5
        z += 0.5
        return z, known_words

    def probabilities(self, text: str) -> FloatArray:
        """Each head's calibrated probability for the text."""
        return calibrate(self.decision(text), self.slope, self.offset)


def _normalise(values: npt.NDArray[Any], columns: IntArray, cuts: IntArray) -> None:
    """Scale each vectoriser's part of a row to unit length, in place. The columns are
    sorted, so each part is one slice; ``cuts`` are where the second and later parts'
    columns start."""
    start = 0
    for end in [*columns.searchsorted(cuts).tolist(), len(columns)]:
        if end > start:
            part = values[start:end]
            part /= math.sqrt(part @ part)
        start = end


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
    specs = meta["vectorisers"]
    vocabularies = [
        arrays[f"vocabulary_{i}"].tobytes().decode().split("\n") for i in range(len(specs))
    ]
    unknown = sum(map(len, vocabularies))
    vectorisers = []
    offset = 0
    for i, (spec, terms) in enumerate(zip(specs, vocabularies, strict=True)):
        vectorisers.append(
            Vectoriser(
                kind=spec["kind"],
                ngram_range=(int(spec["ngram_range"][0]), int(spec["ngram_range"][1])),
                token_pattern=spec["token_pattern"],
                vocabulary={term: column for column, term in enumerate(terms, offset)},
                idf=arrays[f"idf_{i}"].astype(np.float64),
                offset=offset,
                unknown=unknown,
            )
        )
        offset += len(terms)
    # The words tabled for the char_wb vectoriser: the training texts' commonest words as
    # the model file lists them, and the single words of the word vocabulary, the most
    # frequent of them also as they often end a clause or sentence ("it.", "me,").
    words = arrays["words"].tobytes().decode().split("\n") if "words" in arrays else []
    word = next((v for v in vectorisers if v.kind == "word"), None)
    if word is not None:
        singles = [t for t in word.vocabulary if " " not in t]
        ranked = sorted(singles, key=lambda t: (word.idf[word.vocabulary[t] - word.offset], t))
        words += singles + [t + mark for t in ranked[:_COMMON_WORDS] for mark in ",."]
    vectorisers = [v.with_word_table(words) if v.kind == "char_wb" else v for v in vectorisers]
    coef = arrays["coef"].astype(np.float32)
    if coef.shape != (offset, len(meta["heads"])):
        raise ValueError(f"model file {path.name}: coefficients do not match the vocabularies")
    return EmotionModel(
        meta=meta,
        vectorisers=tuple(vectorisers),
        coefficients=coef,
        intercept=arrays["intercept"].astype(np.float64),
        slope=arrays["slope"].astype(np.float64),
        offset=arrays["offset"].astype(np.float64),
        sha256=hashlib.sha256(data).hexdigest(),
        path=path,
    )
