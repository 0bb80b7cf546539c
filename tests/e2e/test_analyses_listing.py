"""ListAnalyses through a real port: pages, filters, orders and tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest
from helpers.auth import authed_channel, server_settings
from helpers.databases import database_url
from helpers.rpc import reason

from server.app import Application
from textlens.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc

Stub = analysis_service_pb2_grpc.AnalysisServiceStub
TYPES = [
    analysis_pb2.ANALYSIS_TYPE_SENTIMENT,
    analysis_pb2.ANALYSIS_TYPE_QUALITY,
    analysis_pb2.ANALYSIS_TYPE_EMOTION,
]
ROWS = 45
Listing = tuple[Stub, list[analysis_pb2.Analysis]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def listing(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Listing]:
    """A server holding exactly ROWS analyses, created one after another."""
    async with database_url(request.param, tmp_path_factory.mktemp("listing")) as url:
        app = Application(server_settings(database_url=url), migrate_schema=True)
        await app.start()
        try:
            async with authed_channel(app.port) as channel:
                stub = Stub(channel)
                created = [
                    await stub.CreateAnalysis(
                        analysis_service_pb2.CreateAnalysisRequest(
                            text=f"Text number {i} is rather nice.", analysis_type=TYPES[i % 3]
                        )
                    )
                    for i in range(ROWS)
                ]
                yield stub, created
        finally:
            await app.stop(0)


async def walk(stub: Stub, **fields: object) -> tuple[list[analysis_pb2.Analysis], int, int]:
    """Every page of a listing: (analyses, number of pages, total_size of the first page)."""
    request = analysis_service_pb2.ListAnalysesRequest(**fields)  # type: ignore[arg-type]
    seen: list[analysis_pb2.Analysis] = []
    pages = 0
    total = -1
    while True:
        response = await stub.ListAnalyses(request)
        pages += 1
        total = response.total_size if total < 0 else total
        assert response.total_size == total
        seen.extend(response.analyses)
        if not response.next_page_token:
            return seen, pages, total
        request.page_token = response.next_page_token


def sort_key(a: analysis_pb2.Analysis, field: str) -> tuple[int, int, str]:
    stamp = getattr(a, field)
    return (stamp.seconds, stamp.nanos, a.id)


async def test_walking_all_pages_returns_every_analysis_once_newest_first(listing: Listing) -> None:
    stub, created = listing
    seen, pages, total = await walk(stub, page_size=7)
    assert total == ROWS
    assert pages == 7  # 6 full pages of 7 and one of 3
    assert [a.id for a in seen] == [
        a.id for a in sorted(created, key=lambda a: sort_key(a, "create_time"), reverse=True)
    ]


async def test_the_default_page_holds_twenty(listing: Listing) -> None:
    stub, _ = listing
    response = await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
    assert len(response.analyses) == 20
    assert response.next_page_token


async def test_page_sizes_above_one_hundred_are_capped(listing: Listing) -> None:
    stub, _ = listing
    response = await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest(page_size=10_000))
    assert len(response.analyses) == ROWS
    assert response.next_page_token == ""


async def test_a_negative_page_size_is_invalid(listing: Listing) -> None:
    stub, _ = listing
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest(page_size=-1))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(caught.value) == "PAGE_SIZE_NEGATIVE"


@pytest.mark.parametrize(
    "order_by",
    ["create_time", "update_time", "update_time desc", "create_time desc", " create_time   desc "],
)
async def test_every_supported_order_is_honoured_across_pages(
    listing: Listing, order_by: str
) -> None:
    stub, created = listing
    seen, _, _ = await walk(stub, page_size=8, order_by=order_by)
    field, *rest = order_by.split()
    expected = sorted(created, key=lambda a: sort_key(a, field), reverse=bool(rest))
    assert [a.id for a in seen] == [a.id for a in expected]


@pytest.mark.parametrize(
    "order_by", ["text", "create_time descending", "id", "create_time, id", "create_time desc desc"]
)
async def test_unsupported_orders_are_invalid(listing: Listing, order_by: str) -> None:
    stub, _ = listing
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest(order_by=order_by))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(caught.value) == "ORDER_BY_INVALID"


async def test_filters_select_by_type_and_status(listing: Listing) -> None:
    stub, created = listing
    for kind in TYPES:
        seen, _, total = await walk(stub, page_size=4, analysis_type=kind)
        assert {a.id for a in seen} == {a.id for a in created if a.analysis_type == kind}
        assert total == len(seen) == ROWS // 3
    completed, _, _ = await walk(stub, status=analysis_pb2.ANALYSIS_STATUS_COMPLETED, page_size=100)
    assert len(completed) == ROWS
    failed, _, total = await walk(stub, status=analysis_pb2.ANALYSIS_STATUS_FAILED)
    assert (failed, total) == ([], 0)


async def test_a_batch_filter_matching_nothing_is_empty(listing: Listing) -> None:
    stub, _ = listing
    for batch_id in ("01a216e9-f3a9-732c-b1ac-82eb49e64a59", "not-a-batch"):
        response = await stub.ListAnalyses(
            analysis_service_pb2.ListAnalysesRequest(batch_id=batch_id)
        )
        assert (list(response.analyses), response.total_size) == ([], 0)


async def test_unknown_filter_values_are_invalid(listing: Listing) -> None:
    stub, _ = listing
    for request in (
        analysis_service_pb2.ListAnalysesRequest(analysis_type=99),
        analysis_service_pb2.ListAnalysesRequest(status=99),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListAnalyses(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def _first_token(stub: Stub, **fields: object) -> str:
    response = await stub.ListAnalyses(
        analysis_service_pb2.ListAnalysesRequest(page_size=5, **fields)
    )  # type: ignore[arg-type]
    assert response.next_page_token
    return response.next_page_token


@pytest.mark.parametrize(
    "other",
    [
        {"analysis_type": analysis_pb2.ANALYSIS_TYPE_QUALITY},
        {"status": analysis_pb2.ANALYSIS_STATUS_COMPLETED},
        {"order_by": "update_time"},
        {"order_by": "create_time"},
        {"batch_id": "01a216e9-f3a9-732c-b1ac-82eb49e64a59"},
    ],
)
async def test_a_token_reused_with_other_filters_or_order_is_invalid(
    listing: Listing, other: dict[str, object]
) -> None:
    stub, _ = listing
    token = await _first_token(stub)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListAnalyses(
            analysis_service_pb2.ListAnalysesRequest(page_size=5, page_token=token, **other)
        )  # type: ignore[arg-type]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(caught.value) == "PAGE_TOKEN_INVALID"


def _tampered(token: str) -> list[str]:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    flipped = bytearray(raw)
    flipped[-3] ^= 0x01
    return [
        token[:-1],
        token + "A",
        "garbage",
        "!!!!",
        base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("="),
        base64.urlsafe_b64encode(bytes(raw[:16]) + b'["2020-01-01T00:00:00+00:00","x"]').decode(),
    ]


async def test_a_tampered_token_is_invalid(listing: Listing) -> None:
    stub, _ = listing
    token = await _first_token(stub)
    for forged in _tampered(token):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListAnalyses(
                analysis_service_pb2.ListAnalysesRequest(page_size=5, page_token=forged)
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, forged
        assert reason(caught.value) == "PAGE_TOKEN_INVALID"


async def test_a_token_works_with_another_page_size(listing: Listing) -> None:
    stub, _ = listing
    token = await _first_token(stub)
    response = await stub.ListAnalyses(
        analysis_service_pb2.ListAnalysesRequest(page_size=50, page_token=token)
    )
    assert len(response.analyses) == ROWS - 5
