"""List requests as the codec decodes them: page sizes, orders and filters, and the same
INVALID_ARGUMENT, field and message for a bad one as callers always got."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain.errors import ErrorReason, InvalidArgument
from server.domain.model import AnalysisStatus, AnalysisType, BatchStatus
from server.service.paging import INPUT_ORDER, ListQuery, Order
from server.service.ports import AnalysisFilter, BatchFilter
from server.transport import codec
from textlens.v1 import analysis_service_pb2, batch_service_pb2

ListAnalyses = analysis_service_pb2.ListAnalysesRequest
ListBatches = batch_service_pb2.ListBatchesRequest
BATCH_ID = "0190a7d2-0000-7000-8000-000000000000"


def analyses(**fields: Any) -> ListQuery[AnalysisFilter]:
    return codec.analyses_query(ListAnalyses(**fields))


def batches(**fields: Any) -> ListQuery[BatchFilter]:
    return codec.batches_query(ListBatches(**fields))


def refusal(decode: Any, **fields: Any) -> tuple[str, ErrorReason, str]:
    """The one field violation decoding the request raises, and the error's message."""
    with pytest.raises(InvalidArgument) as caught:
        decode(**fields)
    (bad,) = caught.value.violations
    return bad.field, bad.reason, caught.value.message


def test_an_empty_request_asks_for_the_first_twenty_newest_first() -> None:
    assert analyses() == ListQuery(AnalysisFilter(), 20, Order("create_time", descending=True))
    assert batches() == ListQuery(BatchFilter(), 20, Order("create_time", descending=True))


@pytest.mark.parametrize("decode", [analyses, batches])
def test_page_sizes_are_capped_at_one_hundred_and_negative_ones_refused(decode: Any) -> None:
    assert [decode(page_size=size).page_size for size in (1, 100, 101, 10_000)] == [
        1,
        100,
        100,
        100,
    ]
    assert refusal(decode, page_size=-1) == (
        "page_size",
        ErrorReason.PAGE_SIZE_NEGATIVE,
        "page_size: must not be negative",
    )


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("create_time", Order("create_time", descending=False)),
        ("update_time desc", Order("update_time", descending=True)),
        (" create_time   DESC ", Order("create_time", descending=True)),
        ("update_time asc", Order("update_time", descending=False)),
    ],
)
def test_supported_orders_decode_with_any_spacing_and_case_of_direction(
    order_by: str, expected: Order
) -> None:
    assert analyses(order_by=order_by).order == expected
    assert batches(order_by=order_by).order == expected


@pytest.mark.parametrize("decode", [analyses, batches])
def test_an_unsupported_order_is_refused_and_quoted_only_when_short(decode: Any) -> None:
    assert refusal(decode, order_by="size desc") == (
        "order_by",
        ErrorReason.ORDER_BY_INVALID,
        "order_by: 'size desc' is not supported; use create_time or update_time, "
        "or batch_item with batch_id, optionally with ' desc'",
    )
    field, reason, message = refusal(decode, order_by="z" * 100_000)
    assert (field, reason) == ("order_by", ErrorReason.ORDER_BY_INVALID)
    assert len(message) < 200 and "zzz" not in message


def test_only_a_batchs_results_may_be_ordered_by_batch_item_and_are_by_default() -> None:
    assert analyses(batch_id=BATCH_ID).order == INPUT_ORDER
    assert analyses(batch_id=BATCH_ID, order_by="batch_item desc").order == Order("batch_item")
    assert analyses(batch_id=BATCH_ID, order_by="create_time").order == Order(descending=False)
    for decode in (analyses, batches):
        assert refusal(decode, order_by="batch_item")[:2] == (
            "order_by",
            ErrorReason.ORDER_BY_INVALID,
        )


def test_filters_decode_to_the_domains_values() -> None:
    assert analyses(analysis_type=2, status=4, batch_id=BATCH_ID).where == AnalysisFilter(
        AnalysisType.QUALITY, AnalysisStatus.FAILED, BATCH_ID
    )
    assert batches(status=4, analysis_type=3).where == BatchFilter(
        BatchStatus.CANCELLED, AnalysisType.EMOTION
    )


@pytest.mark.parametrize(
    ("decode", "field"),
    [
        (analyses, "analysis_type"),
        (analyses, "status"),
        (batches, "status"),
        (batches, "analysis_type"),
    ],
)
def test_an_unknown_filter_value_is_refused_naming_the_field(decode: Any, field: str) -> None:
    assert refusal(decode, **{field: 99}) == (
        field,
        ErrorReason.FIELD_INVALID,
        f"{field}: 99 is not a known value of {field}",
    )


@pytest.mark.parametrize(
    ("batch_id", "reason"),
    [("x" * 7_000, ErrorReason.ID_INVALID), ("0190\x00", ErrorReason.CHARACTERS_INVALID)],
)
def test_a_bad_batch_id_filter_is_refused_and_never_echoed(
    batch_id: str, reason: ErrorReason
) -> None:
    field, refused, message = refusal(analyses, batch_id=batch_id)
    assert (field, refused) == ("batch_id", reason)
    assert "xxxxxxxx" not in message


@pytest.mark.parametrize(
    ("decode", "bad"),
    [
        (
            analyses,
            {
                "analysis_type": 99,
                "status": 99,
                "batch_id": "\x00",
                "page_size": -1,
                "order_by": "size",
            },
        ),
        (batches, {"status": 99, "analysis_type": 99, "page_size": -1, "order_by": "size"}),
    ],
)
def test_of_several_bad_fields_the_first_checked_is_reported(
    decode: Any, bad: dict[str, Any]
) -> None:
    """Filters first, then the page size, then the order, as the server always checked."""
    fields = list(bad)
    for i, expected in enumerate(fields):
        assert refusal(decode, **{f: bad[f] for f in fields[i:]})[0] == expected
