"""Nobody where they don't belong: tokens, scopes and tenants on every RPC."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.auth import TEST_SECRET, authed_channel, make_token, server_settings
from helpers.process import ServerProcess
from helpers.rpc import reason, rich_status
from helpers.servers import running_server

from server.app import Application
from server.auth.tokens import ALL_SCOPES, METHOD_SCOPES
from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT


@pytest.fixture(scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Application]:
    async with running_server(
        tmp_path_factory.mktemp("auth"),
        jwt_audience="textlens",
        jwt_issuer="https://issuer.example",
        batch_workers=0,
    ) as application:
        yield application


def token(tenant: str = "tenant-a", scopes: tuple[str, ...] = ALL_SCOPES, **claims: object) -> str:
    payload: dict[str, object] = {
        "sub": f"user-of-{tenant}",
        "tenant": tenant,
        "scope": " ".join(scopes),
        "aud": "textlens",
        "iss": "https://issuer.example",
        "exp": int(time.time()) + 600,
    }
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, TEST_SECRET, "HS256")


# Every RPC, called with a harmless request; the tenant tests call them with real ids.
Call = Callable[..., Awaitable[object]]


async def _drain(stream: grpc.aio.UnaryStreamCall | grpc.aio.StreamStreamCall) -> list[object]:  # type: ignore[type-arg]
    return [message async for message in stream]


def _calls() -> dict[str, Call]:
    a = analysis_service_pb2
    b = batch_service_pb2

    def analyses(ch: grpc.aio.Channel) -> analysis_service_pb2_grpc.AnalysisServiceStub:
        return analysis_service_pb2_grpc.AnalysisServiceStub(ch)

    def batches(ch: grpc.aio.Channel) -> batch_service_pb2_grpc.BatchServiceStub:
        return batch_service_pb2_grpc.BatchServiceStub(ch)

    stream_request = a.AnalyzeStreamRequest(
        items=[a.AnalyzeStreamItem(ref="1", text="Hello there.", analysis_type=SENTIMENT)]
    )
    return {
        "CreateAnalysis": lambda ch, rid, md=(): analyses(ch).CreateAnalysis(
            a.CreateAnalysisRequest(text="A fine day.", analysis_type=SENTIMENT), metadata=md
        ),
        "GetAnalysis": lambda ch, rid, md=(): analyses(ch).GetAnalysis(
            a.GetAnalysisRequest(id=rid), metadata=md
        ),
        "ListAnalyses": lambda ch, rid, md=(): analyses(ch).ListAnalyses(
            a.ListAnalysesRequest(), metadata=md
        ),
        "DeleteAnalysis": lambda ch, rid, md=(): analyses(ch).DeleteAnalysis(
            a.DeleteAnalysisRequest(id=rid), metadata=md
        ),
        "AnalyzeStream": lambda ch, rid, md=(): _drain(
            analyses(ch).AnalyzeStream(iter([stream_request]), metadata=md)
        ),
        "CreateBatch": lambda ch, rid, md=(): batches(ch).CreateBatch(
            b.CreateBatchRequest(texts=["One text."], analysis_type=SENTIMENT), metadata=md
        ),
        "GetBatch": lambda ch, rid, md=(): batches(ch).GetBatch(
            b.GetBatchRequest(id=rid), metadata=md
        ),
        "ListBatches": lambda ch, rid, md=(): batches(ch).ListBatches(
            b.ListBatchesRequest(), metadata=md
        ),
        "CancelBatch": lambda ch, rid, md=(): batches(ch).CancelBatch(
            b.CancelBatchRequest(id=rid), metadata=md
        ),
        "WatchBatch": lambda ch, rid, md=(): _drain(
            batches(ch).WatchBatch(b.WatchBatchRequest(id=rid), metadata=md)
        ),
    }


CALLS = _calls()
UNKNOWN_ID = "01a216e9-f3a9-732c-b1ac-82eb49e64a59"


def test_every_rpc_of_the_contract_has_a_scope_and_a_case_here() -> None:
    names = {path.rsplit("/", 1)[1] for path in METHOD_SCOPES}
    assert names == set(CALLS)
    services = (analysis_service_pb2, batch_service_pb2)
    contract = {
        m.name
        for module in services
        for s in module.DESCRIPTOR.services_by_name.values()
        for m in s.methods
    }
    assert contract == names


def _forged_none() -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {
        "sub": "x",
        "tenant": "x",
        "scope": " ".join(ALL_SCOPES),
        "exp": int(time.time()) + 600,
        "aud": "textlens",
        "iss": "https://issuer.example",
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@dataclass(frozen=True)
class Case:
    metadata: tuple[tuple[str, str], ...]
    code: grpc.StatusCode
    reason: str


CASES = {
    "no token": Case((), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MISSING"),
    "not bearer": Case(
        (("authorization", "Basic dXNlcjpwYXNz"),),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_MALFORMED",
    ),
    "garbage": Case(
        (("authorization", "Bearer not.a.jwt"),), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MALFORMED"
    ),
    "expired": Case(
        # Expired beyond the 30 s clock leeway.
        (("authorization", f"Bearer {token(exp=int(time.time()) - 120)}"),),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_EXPIRED",
    ),
    "no exp": Case(
        (("authorization", f"Bearer {token(exp=None)}"),),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_EXPIRED",
    ),
    "wrong signature": Case(
        (
            (
                "authorization",
                "Bearer "
                + jwt.encode(
                    {
                        "sub": "x",
                        "exp": int(time.time()) + 600,
                        "aud": "textlens",
                        "iss": "https://issuer.example",
                    },
                    "another-secret-of-more-than-32-bytes!!",
                    "HS256",
                ),
            ),
        ),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_SIGNATURE_INVALID",
    ),
    "alg none": Case(
        (("authorization", f"Bearer {_forged_none()}"),),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_SIGNATURE_INVALID",
    ),
    "wrong audience": Case(
        (("authorization", f"Bearer {token(aud='someone-else')}"),),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_CLAIMS_INVALID",
    ),
    "wrong issuer": Case(
        (("authorization", f"Bearer {token(iss='https://evil.example')}"),),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_CLAIMS_INVALID",
    ),
    "no scope": Case(
        (("authorization", f"Bearer {token(scopes=())}"),),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    ),
}


@pytest.mark.parametrize("method", sorted(CALLS))
@pytest.mark.parametrize("case", sorted(CASES))
async def test_every_rpc_refuses_a_caller_without_a_valid_token_and_scope(
    app: Application, method: str, case: str
) -> None:
    expected = CASES[case]

    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await CALLS[method](channel, UNKNOWN_ID, expected.metadata)
    assert caught.value.code() == expected.code, caught.value.details()
    assert reason(caught.value) == expected.reason
    if expected.reason == "SCOPE_MISSING":
        needed = next(scope for path, scope in METHOD_SCOPES.items() if path.endswith(f"/{method}"))
        assert needed in (caught.value.details() or "")


@pytest.mark.parametrize("method", sorted(CALLS))
async def test_each_rpc_needs_exactly_its_own_scope(app: Application, method: str) -> None:
    path = next(p for p in METHOD_SCOPES if p.endswith(f"/{method}"))
    needed = METHOD_SCOPES[path]
    others = tuple(s for s in ALL_SCOPES if s != needed)
    async with authed_channel(app.port, token(scopes=others)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await CALLS[method](channel, UNKNOWN_ID)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    async with authed_channel(app.port, token(scopes=(needed,))) as channel:
        code = grpc.StatusCode.OK
        try:
            await CALLS[method](channel, UNKNOWN_ID)
        except grpc.aio.AioRpcError as error:
            code = error.code()
    # An unknown id is fine: the scope was enough to get as far as looking it up.
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND)


async def test_health_and_reflection_need_no_token(app: Application) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_errors_about_tokens_leak_nothing_about_the_token(app: Application) -> None:
    secret_looking = token(scopes=(), tenant="tenant-secret-name")
    async with authed_channel(app.port, secret_looking) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await CALLS["ListAnalyses"](channel, "")
    status = rich_status(caught.value)
    assert "tenant-secret-name" not in status.SerializeToString().decode("latin-1")


# --- tenants --------------------------------------------------------------------------


async def test_another_tenants_analyses_and_batches_are_invisible_on_every_rpc(
    app: Application,
) -> None:
    async with (
        authed_channel(app.port, token("owner")) as owner,
        authed_channel(app.port, token("intruder")) as intruder,
    ):
        analyses = analysis_service_pb2_grpc.AnalysisServiceStub(owner)
        batches = batch_service_pb2_grpc.BatchServiceStub(owner)
        analysis = await analyses.CreateAnalysis(
            analysis_service_pb2.CreateAnalysisRequest(
                text="Private words.", analysis_type=SENTIMENT
            )
        )
        batch = await batches.CreateBatch(
            batch_service_pb2.CreateBatchRequest(texts=["Private batch."], analysis_type=SENTIMENT)
        )
        for method in ("GetAnalysis", "DeleteAnalysis"):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await CALLS[method](intruder, analysis.id)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND, method
        for method in ("GetBatch", "CancelBatch", "WatchBatch"):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await CALLS[method](intruder, batch.id)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND, method
        stranger_analyses = analysis_service_pb2_grpc.AnalysisServiceStub(intruder)
        listing = await stranger_analyses.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
        assert analysis.id not in {a.id for a in listing.analyses}
        by_batch = await stranger_analyses.ListAnalyses(
            analysis_service_pb2.ListAnalysesRequest(batch_id=batch.id)
        )
        assert (list(by_batch.analyses), by_batch.total_size) == ([], 0)
        batch_listing = await batch_service_pb2_grpc.BatchServiceStub(intruder).ListBatches(
            batch_service_pb2.ListBatchesRequest()
        )
        assert batch.id not in {b.id for b in batch_listing.batches}
        # The intruder's own writes land in its own tenant and leave the owner's intact.
        await CALLS["CreateAnalysis"](intruder, "")
        still = await analyses.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id=analysis.id))
        assert still.id == analysis.id
        owner_listing = await analyses.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
        assert owner_listing.total_size == 1


async def test_a_page_token_replayed_by_another_tenant_is_refused(app: Application) -> None:
    async with (
        authed_channel(app.port, token("pager")) as mine,
        authed_channel(app.port, token("replayer")) as theirs,
    ):
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(mine)
        for i in range(3):
            await stub.CreateAnalysis(
                analysis_service_pb2.CreateAnalysisRequest(
                    text=f"Page {i}.", analysis_type=SENTIMENT
                )
            )
        page = await stub.ListAnalyses(analysis_service_pb2.ListAnalysesRequest(page_size=1))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analysis_service_pb2_grpc.AnalysisServiceStub(theirs).ListAnalyses(
                analysis_service_pb2.ListAnalysesRequest(
                    page_size=1, page_token=page.next_page_token
                )
            )
    assert reason(caught.value) == "PAGE_TOKEN_INVALID"


async def test_the_tenant_is_the_subject_when_the_token_names_none(app: Application) -> None:
    plain = jwt.encode(
        {
            "sub": "solo",
            "scope": " ".join(ALL_SCOPES),
            "exp": int(time.time()) + 600,
            "aud": "textlens",
            "iss": "https://issuer.example",
        },
        TEST_SECRET,
        "HS256",
    )
    async with (
        authed_channel(app.port, plain) as solo,
        authed_channel(app.port, token("solo")) as same,
    ):
        created = await analysis_service_pb2_grpc.AnalysisServiceStub(solo).CreateAnalysis(
            analysis_service_pb2.CreateAnalysisRequest(text="Alone.", analysis_type=SENTIMENT)
        )
        # A token naming tenant "solo" explicitly sees the same rows (the tenant names them).
        seen = await analysis_service_pb2_grpc.AnalysisServiceStub(same).GetAnalysis(
            analysis_service_pb2.GetAnalysisRequest(id=created.id)
        )
    assert seen.id == created.id


# --- public-key algorithms --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RS256", "ES256"])
async def test_public_key_tokens_verify_and_hs256_tokens_signed_with_the_public_key_do_not(
    kind: str, tmp_path: Path
) -> None:
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "public.pem").write_bytes(public_pem)
    app = Application(
        server_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
            jwt_secret=None,
            jwt_public_key_file=tmp_path / "public.pem",
            page_token_secret="page-tokens-of-a-public-key-deployment-7Hq2",
            batch_workers=0,
        )
    )
    await app.start()
    try:
        claims = {"sub": "pk", "scope": "analyses:read", "exp": int(time.time()) + 600}
        good = jwt.encode(claims, private, kind)
        async with authed_channel(app.port, good) as channel:
            await CALLS["ListAnalyses"](channel, "")
        # The classic confusion attack: HS256 with the (public) key bytes as the secret.
        confused = _hs256_with_key(claims, public_pem)
        async with authed_channel(app.port, confused) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await CALLS["ListAnalyses"](channel, "")
        assert reason(caught.value) == "TOKEN_SIGNATURE_INVALID"
    finally:
        await app.stop(0)


def _hs256_with_key(claims: dict[str, object], key: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{part(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


async def test_concurrent_tenants_never_see_each_others_rows(app: Application) -> None:
    async def work(tenant: str) -> set[str]:
        async with authed_channel(app.port, token(tenant)) as channel:
            stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
            made = {
                (
                    await stub.CreateAnalysis(
                        analysis_service_pb2.CreateAnalysisRequest(
                            text=f"{tenant} {i}", analysis_type=SENTIMENT
                        )
                    )
                ).id
                for i in range(5)
            }
            listed = await stub.ListAnalyses(
                analysis_service_pb2.ListAnalysesRequest(page_size=100)
            )
            assert {a.id for a in listed.analyses} == made
            return made

    results = await asyncio.gather(*(work(f"crowd-{n}") for n in range(4)))
    assert len(set().union(*results)) == 20


async def test_nothing_of_another_tenant_reaches_the_intruders_errors_or_the_logs(
    tmp_path: Path,
) -> None:
    secret_text = "Quarterly numbers of the owner, not for anyone else."
    env = {
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "TEXTLENS_LOG_LEVEL": "INFO",
    }
    with ServerProcess(env, cwd=tmp_path) as server:
        async with (
            authed_channel(server.target, make_token("owner-tenant-x")) as owner,
            authed_channel(server.target, make_token("intruder")) as intruder,
        ):
            mine = analysis_service_pb2_grpc.AnalysisServiceStub(owner)
            made = await mine.CreateAnalysis(
                analysis_service_pb2.CreateAnalysisRequest(
                    text=secret_text, analysis_type=SENTIMENT
                )
            )
            errors = []
            for method in ("GetAnalysis", "DeleteAnalysis"):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await CALLS[method](intruder, made.id)
                errors.append(rich_status(caught.value).SerializeToString().decode("latin-1"))
            theirs = analysis_service_pb2_grpc.AnalysisServiceStub(intruder)
            listing = await theirs.ListAnalyses(analysis_service_pb2.ListAnalysesRequest())
            assert (listing.total_size, list(listing.analyses)) == (0, [])
        records = server.log_records()
    assert any(r.get("tenant") == "intruder" for r in records), "the intruder's calls are logged"
    for text in errors:
        assert "owner-tenant-x" not in text and secret_text not in text
    logged = json.dumps(records)
    assert secret_text not in logged  # texts are never logged at INFO, whoever calls
    intruders = json.dumps([r for r in records if r.get("tenant") == "intruder"])
    assert "owner-tenant-x" not in intruders
