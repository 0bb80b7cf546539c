"""Input that storage cannot hold, unbounded ids, forged page tokens, wire values the codec
cannot decode and uncharged work are refused at the edge, before any storage is touched."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import pytest
from helpers.fakes import (
    FakeAnalysisRepository,
    FakeBatchRepository,
    FakeQualityAnalyzer,
    FakeRateLimiter,
    FakeStorage,
    units_of_work,
)

from server.domain.errors import ErrorReason, InvalidArgument, NotFound, ResourceExhausted
from server.domain.model import Analysis, AnalysisType, Batch
from server.domain.validation import validate_analysis_request, validate_batch_request
from server.service.analyses import AnalysisUseCases
from server.service.analyst import Analyst
from server.service.batches import BatchUseCases
from server.service.paging import MAX_COUNTED_ROWS, ListQuery, Pager, PageTokens
from server.service.ports import AnalysisFilter
from server.service.streaming import StreamItem, StreamUseCases
from server.transport import codec
from textlens.v1 import analysis_service_pb2

QUALITY = AnalysisType.QUALITY
KEY = b"page-token-key-for-tests"
UNSTORABLE = ["\x00", "\ud800", "\udfff"]


def violation(error: InvalidArgument) -> tuple[str, ErrorReason]:
    (first,) = error.violations
    return first.field, first.reason


def fields(error: InvalidArgument) -> list[tuple[str, ErrorReason]]:
    return [(v.field, v.reason) for v in error.violations]


@pytest.mark.parametrize("bad", UNSTORABLE)
def test_a_text_or_request_id_with_an_unstorable_character_is_invalid(bad: str) -> None:
    with pytest.raises(InvalidArgument) as text:
        validate_analysis_request(f"fine {bad} text", QUALITY, "", 100)
    assert violation(text.value) == ("text", ErrorReason.CHARACTERS_INVALID)
    assert "U+" in text.value.message and "position 5" in text.value.message
    with pytest.raises(InvalidArgument) as request_id:
        validate_analysis_request("fine text", QUALITY, f"key{bad}", 100)
    assert violation(request_id.value) == ("request_id", ErrorReason.CHARACTERS_INVALID)


def test_the_bad_text_of_a_batch_is_named_by_index() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_batch_request(["ok", "bad\x00", "ok"], QUALITY, "", max_chars=100, max_texts=10)
    assert violation(caught.value) == ("texts[1]", ErrorReason.CHARACTERS_INVALID)


def test_characters_postgresql_can_store_are_accepted() -> None:
    text = "tab\tbell\x07 del\x7f \uffff \U0010ffff emoji 😀 rtl \u202e"
    assert validate_analysis_request(text, QUALITY, "", 100)[0] == text


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
def use_cases(store: FakeStorage, events: list[str]) -> AnalysisUseCases:
    return AnalysisUseCases(
        units_of_work(store),
        Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}),
        Pager(PageTokens(KEY)),
        max_text_chars=100,
        limiter=FakeRateLimiter(events=events),
    )


@pytest.mark.parametrize("method", ["get", "delete"])
async def test_an_id_with_a_nul_is_invalid_not_a_storage_error(
    use_cases: AnalysisUseCases, method: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await getattr(use_cases, method)("acme", "0190\x00")
    assert violation(caught.value) == ("id", ErrorReason.CHARACTERS_INVALID)


async def test_an_overlong_id_is_invalid_and_never_echoed(use_cases: AnalysisUseCases) -> None:
    huge = "x" * 7_000
    with pytest.raises(InvalidArgument) as caught:
        await use_cases.get("acme", huge)
    assert violation(caught.value) == ("id", ErrorReason.ID_INVALID)
    assert caught.value.metadata == {"max_chars": "64"}
    assert "xxxxxxxx" not in caught.value.message


async def test_not_found_quotes_at_most_a_bounded_id(use_cases: AnalysisUseCases) -> None:
    with pytest.raises(NotFound) as caught:
        await use_cases.get("acme", "y" * 64)
    assert len(caught.value.message) < 100


def _forged(payload: object, scope_hint: str = "") -> str:
    """A token whose MAC is right for some scope but whose content is not a cursor."""
    raw = json.dumps(payload).encode()
    mac = hmac.new(KEY, scope_hint.encode() + b"\0" + raw, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "é" * 10,
        "A" * 5_000,
        _forged(["2026-01-01T00:00:00+00:00", "0190a7d2-0000-7000-8000-000000000000", 3]),
        base64.urlsafe_b64encode(b"\0" * 16 + b"[1,2,3]").decode(),
    ],
)
async def test_a_forged_or_tampered_page_token_is_invalid(
    use_cases: AnalysisUseCases, token: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await use_cases.list("acme", ListQuery(AnalysisFilter(), page_token=token))
    assert violation(caught.value) == ("page_token", ErrorReason.PAGE_TOKEN_INVALID)


@pytest.mark.parametrize(
    "payload",
    [
        ["2026-01-01T00:00:00", "0190a7d2-0000-7000-8000-000000000000", 3],  # naive time
        ["0001-01-01T00:00:00+14:00", "0190a7d2-0000-7000-8000-000000000000", 3],
        ["2026-01-01T00:00:00+00:00", "not-an-id\x00", 3],
        ["2026-01-01T00:00:00+00:00", "0190a7d2-0000-7000-8000-000000000000", -1],
        ["2026-01-01T00:00:00+00:00", "0190a7d2-0000-7000-8000-000000000000", 10**12],
        ["2026-01-01T00:00:00+00:00", "0190a7d2-0000-7000-8000-000000000000", "3"],
        [2**31, "0190a7d2-0000-7000-8000-000000000000", 3],  # batch_item out of range
        {"a": 1},
    ],
)
def test_an_authentic_token_with_a_bad_cursor_is_still_invalid(payload: object) -> None:
    tokens = PageTokens(KEY)
    with pytest.raises(InvalidArgument) as caught:
        tokens.decode(_forged(payload, "scope"), "scope")
    assert violation(caught.value) == ("page_token", ErrorReason.PAGE_TOKEN_INVALID)


async def test_a_page_token_with_a_nul_is_invalid_characters(use_cases: AnalysisUseCases) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await use_cases.list("acme", ListQuery(AnalysisFilter(), page_token="abc\x00def"))
    assert violation(caught.value) == ("page_token", ErrorReason.CHARACTERS_INVALID)


async def test_rows_are_counted_once_for_the_first_page_and_the_count_travels_on(
    use_cases: AnalysisUseCases, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(7):
        await use_cases.create("acme", f"text {i}", QUALITY)
    counts: list[int] = []
    real_count = FakeAnalysisRepository.count

    async def counting(self: FakeAnalysisRepository, *args: Any, **kwargs: Any) -> int:
        counts.append(kwargs["at_most"])
        return await real_count(self, *args, **kwargs)

    monkeypatch.setattr(FakeAnalysisRepository, "count", counting)
    token, totals = "", []
    while True:
        page = await use_cases.list("acme", ListQuery(AnalysisFilter(), 2, page_token=token))
        totals.append(page.total_size)
        token = page.next_page_token
        if not token:
            break
    assert totals == [7, 7, 7, 7]
    assert counts == [MAX_COUNTED_ROWS]


async def test_a_create_is_charged_before_its_request_id_is_looked_up_and_a_replay_costs_one(
    use_cases: AnalysisUseCases, events: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_lookup = FakeAnalysisRepository.get_by_request_id

    async def lookup(self: FakeAnalysisRepository, tenant: str, key: str) -> Analysis | None:
        events.append("lookup")
        return await real_lookup(self, tenant, key)

    monkeypatch.setattr(FakeAnalysisRepository, "get_by_request_id", lookup)
    first = await use_cases.create("acme", "same words", QUALITY, "key-1")
    again = await use_cases.create("acme", "same words", QUALITY, "key-1")
    assert again == first
    assert events == ["charge 1", "lookup", "charge 1", "lookup"]


async def test_a_batch_pays_one_unit_before_its_lookup_and_a_replay_costs_no_more(
    events: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_lookup, real_add = FakeBatchRepository.get_by_request_id, FakeBatchRepository.add

    async def lookup(self: FakeBatchRepository, tenant: str, key: str) -> Batch | None:
        events.append("lookup")
        return await real_lookup(self, tenant, key)

    async def add(self: FakeBatchRepository, batch: Batch, texts: Sequence[str]) -> None:
        events.append(f"store {len(texts)}")
        await real_add(self, batch, texts)

    monkeypatch.setattr(FakeBatchRepository, "get_by_request_id", lookup)
    monkeypatch.setattr(FakeBatchRepository, "add", add)
    use_cases = BatchUseCases(
        units_of_work(FakeStorage()),
        Pager(PageTokens(KEY)),
        max_text_chars=100,
        max_batch_texts=100,
        limiter=FakeRateLimiter(budget=10, events=events),
    )
    texts = ["one", "two", "three"]
    first = await use_cases.create("acme", texts, QUALITY, "batch-1")
    again = await use_cases.create("acme", texts, QUALITY, "batch-1")
    assert again == first
    assert events == ["charge 1", "lookup", "charge 2", "store 3", "charge 1", "lookup"]
    events.clear()
    with pytest.raises(ResourceExhausted):
        await use_cases.create("acme", ["t"] * 11, QUALITY, "batch-2")
    assert events == [], "a batch larger than the whole budget touches nothing"


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"text": "b\x00d", "analysis_type": QUALITY}, ("text", ErrorReason.CHARACTERS_INVALID)),
        ({"text": "fine"}, ("analysis_type", ErrorReason.ANALYSIS_TYPE_MISSING)),
    ],
)
async def test_a_bad_stream_item_is_rejected_alone(
    events: list[str], bad: dict[str, Any], expected: tuple[str, ErrorReason]
) -> None:
    streams = StreamUseCases(
        units_of_work(FakeStorage()),
        Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}),
        max_text_chars=100,
        limiter=FakeRateLimiter(events=events),
    )
    request = analysis_service_pb2.AnalyzeStreamRequest(
        items=[
            analysis_service_pb2.AnalyzeStreamItem(ref="1", text="good", analysis_type=QUALITY),
            analysis_service_pb2.AnalyzeStreamItem(ref="2", **bad),
        ]
    )
    outcome = await streams.analyze_message("acme", codec.stream_items(request))
    assert not isinstance(outcome, InvalidArgument)
    good, rejected = outcome
    assert good.analysis is not None and good.analysis.analysis_type is AnalysisType.QUALITY
    assert isinstance(rejected.error, InvalidArgument)
    assert violation(rejected.error) == expected
    assert events == ["charge 1"], "only the valid item is charged"


async def test_items_over_budget_cost_a_few_limiter_calls_and_one_shared_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limiter = FakeRateLimiter(budget=37)
    streams = StreamUseCases(
        units_of_work(FakeStorage()),
        Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}),
        max_text_chars=100,
        limiter=limiter,
    )
    items = [StreamItem(str(i), f"text {i}", QUALITY) for i in range(1_000)]
    outcome = await streams.analyze_message("acme", items)
    assert not isinstance(outcome, InvalidArgument)
    assert sum(o.analysis is not None for o in outcome) == 37, "the budget is used up exactly"
    assert limiter.calls <= 24, "halving steps, not one call per refused item"

    built = []
    real = codec.to_status_proto
    monkeypatch.setattr(codec, "to_status_proto", lambda e: built.append(e) or real(e))
    response = codec.stream_response(outcome)
    assert len(response.results) == 1_000
    assert len(built) == 1, "the 963 refused items share one status"


async def test_a_missing_type_is_reported_after_the_texts_violation_and_nothing_is_charged(
    use_cases: AnalysisUseCases, store: FakeStorage, events: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await use_cases.create("acme", "  ", codec.analysis_type(0))
    assert fields(caught.value) == [
        ("text", ErrorReason.TEXT_EMPTY),
        ("analysis_type", ErrorReason.ANALYSIS_TYPE_MISSING),
    ]
    assert caught.value.message == (
        "text: must not be empty or only whitespace (and 1 more invalid fields)"
    )
    assert (store.analyses, events) == ({}, [])


async def test_an_unknown_type_is_named_by_its_number(use_cases: AnalysisUseCases) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await use_cases.create("acme", "fine words", codec.analysis_type(42))
    assert fields(caught.value) == [("analysis_type", ErrorReason.ANALYSIS_TYPE_UNKNOWN)]
    assert caught.value.message == "analysis_type: 42 is not a known analysis type"


async def test_a_batch_names_its_bad_texts_then_the_type_then_the_request_id(
    store: FakeStorage,
) -> None:
    batches = BatchUseCases(
        units_of_work(store), Pager(PageTokens(KEY)), max_text_chars=100, max_batch_texts=10
    )
    with pytest.raises(InvalidArgument) as caught:
        await batches.create("acme", ["fine", ""], codec.analysis_type(7), "key\x00")
    assert fields(caught.value) == [
        ("texts[1]", ErrorReason.TEXT_EMPTY),
        ("analysis_type", ErrorReason.ANALYSIS_TYPE_UNKNOWN),
        ("request_id", ErrorReason.CHARACTERS_INVALID),
    ]
    assert store.batches == {}
