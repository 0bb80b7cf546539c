"""The shipped emotion model scores texts exactly as scikit-learn would with its parameters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from server.domain.analyzers.emotion_model import MODEL_FILE, EmotionModel, load_model

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "goemotions-sample"
TRICKY = [
    "", " ", "a", "I", "İ", "ß", "e\u0301", "日本語", "😍", "👍🏽", "👨\u200d👩\u200d👧", "[NAME]",
    "don't", "can’t", "!!!", "?!", "...", "\t\n", "\u2028", "\xa0", "_", "__init__", "x" * 60,
]  # fmt: skip
WORDS = ["i", "am", "not", "so", "happy", "sad", "Sad", "SAD", "this", "is", "lol", "wow"]


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    return load_model(MODEL_FILE)


@pytest.fixture(scope="module")
def reference(model: EmotionModel) -> list[TfidfVectorizer]:
    """scikit-learn vectorisers holding the model file's vocabularies and idf weights."""
    found = []
    for vectoriser in model.vectorisers:
        options = (
            {"token_pattern": vectoriser.token_pattern}
            if vectoriser.kind == "word"
            else {"analyzer": vectoriser.kind}
        )
        sk = TfidfVectorizer(
            **options,
            ngram_range=vectoriser.ngram_range,
            sublinear_tf=True,
            vocabulary={t: c - vectoriser.offset for t, c in vectoriser.vocabulary.items()},
            dtype=np.float64,
        )
        sk.idf_ = vectoriser.idf
        found.append(sk)
    return found


def sklearn_decision(
    model: EmotionModel, reference: list[TfidfVectorizer], texts: list[str]
) -> np.ndarray:
    x = sparse.hstack([v.transform(texts) for v in reference], format="csr")
    return np.asarray(x @ model.coef.astype(np.float64) + model.intercept)


def sample_texts() -> Iterator[str]:
    for line in (SAMPLE / "original" / "dev.tsv").read_text(encoding="utf-8").splitlines():
        yield line.split("\t")[0]


def test_dev_texts_score_as_in_scikit_learn(
    model: EmotionModel, reference: list[TfidfVectorizer]
) -> None:
    texts = [*sample_texts(), *TRICKY]
    expected = sklearn_decision(model, reference, texts)
    found = np.array([model.decision(text) for text in texts])
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-9)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(st.sampled_from(WORDS + TRICKY), max_size=40).map(" ".join),
        st.lists(st.sampled_from(WORDS + TRICKY), max_size=40).map("".join),
    )
)
def test_any_text_scores_as_in_scikit_learn(
    model: EmotionModel, reference: list[TfidfVectorizer], text: str
) -> None:
    expected = sklearn_decision(model, reference, [text])[0]
    np.testing.assert_allclose(model.decision(text), expected, rtol=0, atol=1e-9)


def test_probabilities_are_the_calibrated_decisions(model: EmotionModel) -> None:
    decision = model.decision("I am sad.")
    expected = 1 / (1 + np.exp(-(model.slope * decision + model.offset)))
    np.testing.assert_allclose(model.probabilities("I am sad."), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("text", ["I am sad.", "", "😍😍 lol", *TRICKY[:8], "x" * 10_000])
def test_scores_are_the_calibrated_decisions_to_float32_precision(
    model: EmotionModel, text: str
) -> None:
    scores, _ = model.score(text)
    np.testing.assert_allclose(scores, model.probabilities(text), rtol=0, atol=1e-5)


def test_the_model_file_names_its_data_and_licence(model: EmotionModel) -> None:
    assert "GoEmotions" in model.meta["dataset"]
    assert "CC BY 4.0" in model.meta["dataset"]
    assert len(model.heads) == 35
