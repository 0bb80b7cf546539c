"""readable(): enum names instead of numbers, datetimes, None for unset optional fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from textlens import NamedEnum, Readable, readable
from textlens.v1 import analysis_pb2, batch_pb2


def stored_analysis() -> analysis_pb2.Analysis:
    analysis = analysis_pb2.Analysis(
        id="a1",
        text="I love it.",
        analysis_type=analysis_pb2.ANALYSIS_TYPE_SENTIMENT,
        status=analysis_pb2.ANALYSIS_STATUS_COMPLETED,
    )
    analysis.sentiment.label = analysis_pb2.SENTIMENT_LABEL_POSITIVE
    analysis.sentiment.score = 0.6369
    analysis.sentiment.sentences.add(text="I love it.", score=0.6369)
    analysis.create_time.FromDatetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    return analysis


def test_enum_fields_print_as_their_short_names_and_still_equal_the_numbers() -> None:
    view = readable(stored_analysis())
    assert str(view.status) == "COMPLETED"
    assert f"{view.sentiment.label} {view.analysis_type}" == "POSITIVE SENTIMENT"
    assert view.sentiment.label == analysis_pb2.SENTIMENT_LABEL_POSITIVE
    assert isinstance(view.sentiment.label, NamedEnum)
    assert view.sentiment.label.full_name == "SENTIMENT_LABEL_POSITIVE"
    assert view.sentiment.sentences[0].label.name == "UNSPECIFIED"
    assert str(readable(batch_pb2.Batch(status=batch_pb2.BATCH_STATUS_RUNNING)).status) == (
        "RUNNING"
    )


def test_times_are_datetimes_and_unset_optionals_are_none() -> None:
    view = readable(stored_analysis())
    assert view.create_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert view.process_time is None
    assert view.batch_item is None
    in_batch = stored_analysis()
    in_batch.batch_item = 0
    assert readable(in_batch).batch_item == 0


def test_the_view_passes_message_methods_through_and_is_read_only() -> None:
    message = stored_analysis()
    view = readable(message)
    assert view.WhichOneof("result") == "sentiment"
    assert view.__wrapped__ is message
    assert view == readable(stored_analysis())
    with pytest.raises(AttributeError):
        view.text = "changed"  # type: ignore[misc]
    assert isinstance(view.sentiment, Readable)


def test_repr_shows_the_set_fields_by_name() -> None:
    text = repr(readable(stored_analysis()))
    assert text.startswith("Analysis(id='a1', text='I love it.', analysis_type=SENTIMENT,")
    assert "label=POSITIVE" in text
    assert "create_time=2026-01-02T03:04:05+00:00" in text


def test_an_enum_number_the_client_does_not_know_stays_a_number() -> None:
    batch = batch_pb2.Batch()
    batch.status = 99  # type: ignore[assignment]  # a value added to the contract later
    assert readable(batch).status == 99


def test_readable_takes_only_messages() -> None:
    with pytest.raises(TypeError):
        readable("not a message")  # type: ignore[type-var]
