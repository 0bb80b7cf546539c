"""Results as rows of plain values (cache entries, results back from the analysis process)
open to the same results, and a row made with its text holds none of it."""

from __future__ import annotations

import pickle

from server.adapters.rows import from_row, is_row, to_row
from server.domain.analyzers import EmotionAnalyzer, QualityAnalyzer, SentimentAnalyzer
from server.domain.analyzers.base import SentimentResult

TEXT = "Zanzibar merger closes Friday! I am thrilled. The lawyers, less so."


def test_sentiment_and_emotion_rows_open_to_the_same_results_with_or_without_the_text() -> None:
    for analyzer in (SentimentAnalyzer(), EmotionAnalyzer()):
        result = analyzer.analyze(TEXT)
        for text in (None, TEXT):
            row = to_row(result, 4.5, text=text)
            assert row is not None and is_row(row)
            opened = from_row(pickle.loads(pickle.dumps(row)), text)
            assert opened == (analyzer.analysis_type, result, 4.5)


def test_a_sentiment_row_made_with_its_text_holds_none_of_it() -> None:
    result = SentimentAnalyzer().analyze(TEXT)
    assert isinstance(result, SentimentResult) and len(result.sentences) == 3
    row = to_row(result, 1.0, text=TEXT)
    for word in ("Zanzibar", "thrilled", "lawyers"):
        assert word not in repr(row)
    assert "thrilled" in repr(to_row(result, 1.0))  # without the text, the row carries it


def test_sentences_that_are_not_slices_of_the_text_get_no_row_without_their_texts() -> None:
    result = SentimentAnalyzer().analyze(TEXT)
    assert to_row(result, 1.0, text="Another text altogether, of other sentences.") is None


def test_quality_results_and_pairs_holding_a_result_are_not_rows() -> None:
    result = QualityAnalyzer().analyze(TEXT)
    assert to_row(result, 1.0) is None
    assert not is_row((result, 1.0))
    assert not is_row(())
