"""The emotion model's training script, run on a tiny committed sample of GoEmotions."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from server.domain.analyzers.emotion import EmotionAnalyzer
from server.domain.analyzers.emotion_model import load_model
from training import evaluate, goemotions
from training.goemotions import FittedModel, TrainConfig

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "goemotions-sample"
CONFIG = replace(TrainConfig(), word_min_df=1, char_min_df=1, folds=3, common_words=500, jobs=1)
TEXTS = [
    "I am so happy for you, thank you!",
    "This is disgusting and I'm furious.",
    "Wait, what?? That can't be right...",
    "",
    "😍😍 [NAME] is the best",
    "ok",
]


@pytest.fixture(scope="module")
def fitted() -> FittedModel:
    return goemotions.fit(goemotions.load_split(SAMPLE, "train"), CONFIG)


@pytest.fixture(scope="module")
def model_file(fitted: FittedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "emotion.npz"
    goemotions.export(fitted, path)
    return path


def test_a_split_holds_both_taxonomies_side_by_side() -> None:
    split = goemotions.load_split(SAMPLE, "train")
    assert len(split.heads) == 28 + 7
    assert split.heads[:3] == ["admiration", "amusement", "anger"]
    assert split.heads[27] == "neutral"
    assert split.heads[28:] == [
        "ekman:anger", "ekman:disgust", "ekman:fear", "ekman:joy",
        "ekman:neutral", "ekman:sadness", "ekman:surprise",
    ]  # fmt: skip
    assert split.labels.shape == (len(split.texts), 35)
    assert (split.labels[:, :28].sum(axis=1) >= 1).all()
    assert (split.labels[:, 28:].sum(axis=1) >= 1).all()
    # A neutral comment is neutral in both taxonomies.
    assert (split.labels[:, 27] == split.labels[:, 28 + 4]).all()


def test_the_model_file_holds_every_head_and_its_calibration(
    fitted: FittedModel, model_file: Path
) -> None:
    model = load_model(model_file)
    assert model.heads == fitted.heads
    features = sum(len(v.vocabulary) for v in model.vectorisers)
    assert model.coef.shape == (features, 35)
    assert model.intercept.shape == model.slope.shape == model.offset.shape == (35,)
    assert model.meta["dataset"].endswith("CC BY 4.0")
    assert model.meta["training"]["seed"] == CONFIG.seed
    assert model.sha256 == hashlib.sha256(model_file.read_bytes()).hexdigest()


def test_calibration_is_fitted_on_train_scores_of_fold_models_that_never_saw_them(
    fitted: FittedModel,
) -> None:
    train = goemotions.load_split(SAMPLE, "train")
    assert fitted.out_of_fold.shape == train.labels.shape
    # An out-of-fold score is not the shipped model's score of the same text: the fold
    # model that gave it never saw the text.
    assert not np.allclose(fitted.out_of_fold, fitted.decision(train.texts))
    # Calibration from those scores alone: refitting it on them gives the same numbers.
    k = train.heads.index("ekman:joy")
    slope, offset = goemotions.calibration(fitted.out_of_fold[:, k], train.labels[:, k])
    assert (slope, offset) == (fitted.slope[k], fitted.offset[k])
    assert 0 < goemotions.out_of_fold_macro_f1(fitted, train) <= 1


def test_the_model_file_tables_the_train_splits_commonest_words(model_file: Path) -> None:
    model = load_model(model_file)
    char = next(v for v in model.vectorisers if v.kind == "char_wb")
    assert "the" in char.word_columns and "i" in char.word_columns
    assert len(goemotions.common_words(["a b a", "a c"], 2)) == 2
    assert goemotions.common_words(["a b a", "a c", "c"], 2) == ["a", "c"]


def test_the_shipped_inference_reproduces_the_sklearn_pipeline(
    fitted: FittedModel, model_file: Path
) -> None:
    model = load_model(model_file)
    expected = fitted.decision(TEXTS)
    found = np.array([model.decision(text) for text in TEXTS])
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-9)


def test_training_twice_writes_the_same_bytes(model_file: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.npz"
    digest = goemotions.train(SAMPLE, again, CONFIG)
    assert again.read_bytes() == model_file.read_bytes()
    assert digest == hashlib.sha256(model_file.read_bytes()).hexdigest()


def test_calibration_puts_one_half_at_the_f1_best_threshold() -> None:
    decision = np.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    truth = np.array([0, 0, 0, 1, 0, 1, 1], dtype=np.int8)
    slope, offset = goemotions.calibration(decision, truth)
    present = slope * decision + offset >= 0
    # F1 is best (6/7) when the top four are called present.
    assert present.tolist() == [False, False, False, True, True, True, True]
    assert slope > 0


def test_evaluation_reports_every_class_from_the_analyzer_results(model_file: Path) -> None:
    scores = evaluate.evaluate(SAMPLE, model_file)
    assert [s.name for s in scores["ekman"]] == [
        "anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral",
    ]  # fmt: skip
    assert len(scores["original"]) == 28
    dev = goemotions.load_split(SAMPLE, "dev")
    assert scores["ekman"][-1].support == int(dev.labels[:, 28 + 4].sum())
    assert all(0 <= s.f1 <= 1 for s in scores["ekman"] + scores["original"])


def test_the_command_line_trains_and_evaluates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(goemotions, "TrainConfig", lambda: CONFIG)
    out = tmp_path / "cli.npz"
    assert goemotions.main(["train", "--data", str(SAMPLE), "--model", str(out)]) == 0
    printed = capsys.readouterr().out
    assert EmotionAnalyzer(out).info.model_sha256 in printed
    assert "macro-F1 on train, out of fold" in printed
    assert goemotions.main(["eval", "--data", str(SAMPLE), "--model", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "macro-F1" in printed and "sadness" in printed and "admiration" in printed
    assert "other half of dev" in printed and "Brier" in printed
