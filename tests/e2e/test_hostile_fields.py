"""Fields storage cannot hold, unbounded ids, forged page tokens and bad tenant claims, sent
over the wire to a real server on PostgreSQL and on SQLite: each is INVALID_ARGUMENT (or
UNAUTHENTICATED for a claim) with the field named, nothing is stored, and another
tenant's calls running at the same time all succeed."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
import jwt
import pytest
from google.rpc import error_details_pb2
from helpers.auth import TEST_SECRET, authed_channel, make_token, server_settings
from helpers.databases import database_url
from helpers.rpc import detail, reason, rich_status, violations
from helpers.tools import grpcurl

from server.app import Application
from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT
A = analysis_service_pb2
B = batch_service_pb2
NUL = "\x00"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Application]:
    async with database_url(request.param, tmp_path_factory.mktemp("hostile")) as url:
        application = Application(
            server_settings(database_url=url, batch_workers=0), migrate_schema=True
        )
        await application.start()
        yield application
        await application.stop(0)


Call = Callable[[grpc.aio.Channel], Awaitable[Any]]


def analyses(channel: grpc.aio.Channel) -> analysis_service_pb2_grpc.AnalysisServiceStub:
    return analysis_service_pb2_grpc.AnalysisServiceStub(channel)


def batches(channel: grpc.aio.Channel) -> batch_service_pb2_grpc.BatchServiceStub:
    return batch_service_pb2_grpc.BatchServiceStub(channel)


async def _watch(channel: grpc.aio.Channel, batch_id: str) -> list[object]:
    return [b async for b in batches(channel).WatchBatch(B.WatchBatchRequest(id=batch_id))]


def _with_id(value: str) -> dict[str, Call]:
    return {
        "GetAnalysis": lambda ch: analyses(ch).GetAnalysis(A.GetAnalysisRequest(id=value)),
        "DeleteAnalysis": lambda ch: analyses(ch).DeleteAnalysis(A.DeleteAnalysisRequest(id=value)),
        "GetBatch": lambda ch: batches(ch).GetBatch(B.GetBatchRequest(id=value)),
        "CancelBatch": lambda ch: batches(ch).CancelBatch(B.CancelBatchRequest(id=value)),
        "WatchBatch": lambda ch: _watch(ch, value),
        "ListAnalyses(batch_id)": lambda ch: analyses(ch).ListAnalyses(
            A.ListAnalysesRequest(batch_id=value)
        ),
    }


NUL_FIELDS: dict[str, tuple[Call, str]] = {
    "text": (
        lambda ch: analyses(ch).CreateAnalysis(
            A.CreateAnalysisRequest(text=f"fine{NUL}text", analysis_type=SENTIMENT)
        ),
        "text",
    ),
    "request_id": (
        lambda ch: analyses(ch).CreateAnalysis(
            A.CreateAnalysisRequest(text="fine", analysis_type=SENTIMENT, request_id=f"k{NUL}")
        ),
        "request_id",
    ),
    "texts[i]": (
        lambda ch: batches(ch).CreateBatch(
            B.CreateBatchRequest(texts=["ok", f"b{NUL}d"], analysis_type=SENTIMENT)
        ),
        "texts[1]",
    ),
    "batch request_id": (
        lambda ch: batches(ch).CreateBatch(
            B.CreateBatchRequest(texts=["ok"], analysis_type=SENTIMENT, request_id=f"{NUL}")
        ),
        "request_id",
    ),
    "page_token": (
        lambda ch: analyses(ch).ListAnalyses(A.ListAnalysesRequest(page_token=f"abc{NUL}")),
        "page_token",
    ),
    **{
        name: (call, "batch_id" if "batch_id" in name else "id")
        for name, call in _with_id(f"0190{NUL}").items()
    },
}


async def _stored(channel: grpc.aio.Channel) -> tuple[int, int]:
    listed = await analyses(channel).ListAnalyses(A.ListAnalysesRequest())
    batched = await batches(channel).ListBatches(B.ListBatchesRequest())
    return listed.total_size, batched.total_size


@pytest.mark.parametrize("field", list(NUL_FIELDS))
async def test_a_nul_in_any_field_is_invalid_argument_naming_it_and_stores_nothing(
    app: Application, field: str
) -> None:
    call, expected = NUL_FIELDS[field]
    tenant = f"nul-{list(NUL_FIELDS).index(field)}"
    async with authed_channel(app.port, make_token(tenant)) as channel:
        before = await _stored(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(channel)
        after = await _stored(channel)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(caught.value) == "CHARACTERS_INVALID"
    assert (expected, "CHARACTERS_INVALID") in violations(caught.value)
    assert after == before


async def test_a_nul_in_a_streamed_item_rejects_that_item_only(app: Application) -> None:
    items = [
        A.AnalyzeStreamItem(ref="good", text="Fine words.", analysis_type=SENTIMENT),
        A.AnalyzeStreamItem(ref="bad", text=f"Bad{NUL}words.", analysis_type=SENTIMENT),
    ]
    async with authed_channel(app.port, make_token("nul-stream")) as channel:
        (response,) = [
            r
            async for r in analyses(channel).AnalyzeStream(
                iter([A.AnalyzeStreamRequest(items=items)])
            )
        ]
        stored = await _stored(channel)
    good, bad = response.results
    assert good.WhichOneof("outcome") == "analysis"
    bad_request = detail(bad.error, error_details_pb2.BadRequest)
    assert [(v.field, v.reason) for v in bad_request.field_violations] == [
        ("text", "CHARACTERS_INVALID")
    ]
    assert stored == (1, 0)


LONG_IDS = [
    *((method, length) for method in _with_id("x") for length in (65, 7_000)),
    # One unary and one streaming call carry a 4 MiB id.
    ("GetAnalysis", 4 * 1024 * 1024),
    ("WatchBatch", 4 * 1024 * 1024),
]


@pytest.mark.parametrize(("method", "length"), LONG_IDS)
async def test_an_overlong_id_is_invalid_and_never_echoed(
    app: Application, method: str, length: int
) -> None:
    async with authed_channel(app.port, make_token("long-ids")) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _with_id("7" * length)[method](channel)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(caught.value) == "ID_INVALID"
    status = rich_status(caught.value)
    assert detail(status, error_details_pb2.ErrorInfo).metadata["max_chars"] == "64"
    assert len(status.SerializeToString()) < 1_000
    assert "7777777" not in (caught.value.details() or "")


async def test_not_found_answers_stay_small(app: Application) -> None:
    async with authed_channel(app.port, make_token("not-found")) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analyses(channel).GetAnalysis(A.GetAnalysisRequest(id="9" * 64))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert len(rich_status(caught.value).SerializeToString()) < 500


def _tampered(token: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-3] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


async def test_forged_and_tampered_page_tokens_are_invalid_never_internal(
    app: Application,
) -> None:
    async with authed_channel(app.port, make_token("pager")) as channel:
        stub = analyses(channel)
        for i in range(3):
            await stub.CreateAnalysis(
                A.CreateAnalysisRequest(text=f"Row {i}.", analysis_type=SENTIMENT)
            )
        token = (await stub.ListAnalyses(A.ListAnalysesRequest(page_size=1))).next_page_token
        assert token
        forgeries = [
            _tampered(token),
            base64.urlsafe_b64encode(
                b"\x00" * 16 + b'["9999-12-31T23:59:59+00:00","x",1]'
            ).decode(),
            base64.urlsafe_b64encode(b"A" * 300).decode(),
            "%%%not base64%%%",
            "A" * 10_000,
            token[:-2],
        ]
        for forged in forgeries:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.ListAnalyses(A.ListAnalysesRequest(page_size=1, page_token=forged))
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, forged
            assert violations(caught.value) == [("page_token", "PAGE_TOKEN_INVALID")]


async def test_total_size_is_counted_for_the_first_page_and_kept_by_the_next(
    app: Application,
) -> None:
    async with (
        authed_channel(app.port, make_token("counted")) as channel,
        authed_channel(app.port, make_token("counted")) as again,
    ):
        stub = analyses(channel)
        for i in range(4):
            await stub.CreateAnalysis(
                A.CreateAnalysisRequest(text=f"Row {i}.", analysis_type=SENTIMENT)
            )
        first = await stub.ListAnalyses(A.ListAnalysesRequest(page_size=2))
        await analyses(again).CreateAnalysis(
            A.CreateAnalysisRequest(text="Late.", analysis_type=SENTIMENT)
        )
        second = await stub.ListAnalyses(
            A.ListAnalysesRequest(page_size=2, page_token=first.next_page_token)
        )
        fresh = await stub.ListAnalyses(A.ListAnalysesRequest(page_size=2))
    # The count belongs to the listing the token continues, taken once on its first page.
    assert (first.total_size, second.total_size, fresh.total_size) == (4, 4, 5)


def _claims_token(**claims: object) -> str:
    payload = {"sub": "someone", "scope": "analyses:read", "exp": int(time.time()) + 600}
    payload.update(claims)
    return jwt.encode(payload, TEST_SECRET, "HS256")


@pytest.mark.parametrize(
    "claims",
    [{"tenant": f"acme{NUL}"}, {"tenant": "acme|x"}, {"tenant": "a" * 129}, {"sub": "auth0|1"}],
)
async def test_a_token_whose_tenant_breaks_the_rule_is_unauthenticated(
    app: Application, claims: dict[str, object]
) -> None:
    async with authed_channel(app.port, _claims_token(**claims)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analyses(channel).ListAnalyses(A.ListAnalysesRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert reason(caught.value) == "TOKEN_CLAIMS_INVALID"


async def test_another_tenants_nul_attack_never_fails_a_victims_call(app: Application) -> None:
    async def attack(channel: grpc.aio.Channel, stop: asyncio.Event) -> int:
        refused = 0
        while not stop.is_set():
            for call, _ in NUL_FIELDS.values():
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call(channel)
                assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                refused += 1
        return refused

    async def victim(channel: grpc.aio.Channel, n: int) -> list[str]:
        stub = analyses(channel)
        made = []
        for i in range(n):
            created = await stub.CreateAnalysis(
                A.CreateAnalysisRequest(
                    text=f"Victim text {i}.", analysis_type=SENTIMENT, request_id=f"v-{i}"
                )
            )
            made.append(created.id)
        return made

    stop = asyncio.Event()
    async with (
        authed_channel(app.port, make_token("attacker")) as bad,
        authed_channel(app.port, make_token("victim")) as good,
    ):
        attackers = [asyncio.create_task(attack(bad, stop)) for _ in range(4)]
        try:
            made = await asyncio.gather(*(victim(good, 25) for _ in range(8)))
        finally:
            stop.set()
        refused = sum(await asyncio.gather(*attackers))
    assert refused > 0
    assert all(len(ids) == 25 for ids in made)


async def test_grpcurl_sends_a_nul_and_gets_a_field_violation(app: Application) -> None:
    result = await asyncio.to_thread(
        grpcurl,
        "textlens.v1.AnalysisService/CreateAnalysis",
        target=f"127.0.0.1:{app.port}",
        data=json.dumps({"text": "a\u0000b", "analysis_type": "ANALYSIS_TYPE_SENTIMENT"}),
        flags=("-format-error",),
    )
    assert result.returncode != 0
    assert '"code": 3' in result.stderr and "CHARACTERS_INVALID" in result.stderr
