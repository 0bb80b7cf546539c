"""The client library against the server's real auth and rate limiting."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpers.auth import make_token
from helpers.servers import running_server

from textlens import AsyncClient, PermissionDenied, ResourceExhausted, Retry, Unauthenticated


@pytest.fixture
async def target(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    directory = tmp_path_factory.mktemp("client-limits")
    async with running_server(directory, rate_limit="3/second", batch_workers=0) as app:
        yield f"127.0.0.1:{app.port}"


async def test_a_rate_limited_create_is_retried_after_the_servers_delay(target: str) -> None:
    async with AsyncClient(target, token=make_token("eager"), timeout=10) as client:
        for i in range(3):
            await client.create_analysis(f"Quick {i}.", analysis_type="sentiment")
        # Over budget: the client waits the RetryInfo delay and tries again, within the deadline.
        late = await client.create_analysis("One more.", analysis_type="sentiment")
        assert late.text == "One more."


async def test_without_retries_the_limit_surfaces_with_its_delay(target: str) -> None:
    async with AsyncClient(target, token=make_token("strict"), retry=None) as client:
        for i in range(3):
            await client.create_analysis(f"Quick {i}.", analysis_type="sentiment")
        with pytest.raises(ResourceExhausted) as caught:
            await client.create_analysis("Too many.", analysis_type="sentiment")
    assert caught.value.reason == "RATE_LIMITED"
    assert caught.value.retry_delay is not None and 0 < caught.value.retry_delay <= 1
    assert caught.value.request_id


async def test_a_bad_token_and_a_missing_scope_raise_their_own_classes(target: str) -> None:
    async with AsyncClient(target, token="not-a-token", retry=Retry(max_attempts=1)) as client:
        with pytest.raises(Unauthenticated) as unauthenticated:
            await client.list_analyses_page()
    assert unauthenticated.value.reason == "TOKEN_MALFORMED"
    reader = make_token("reader", scopes=("analyses:read",))
    async with AsyncClient(target, token=reader) as client:
        with pytest.raises(PermissionDenied) as denied:
            await client.create_analysis("Not allowed.", analysis_type="sentiment")
    assert denied.value.reason == "SCOPE_MISSING"


async def test_a_token_callable_is_asked_for_a_fresh_token(target: str) -> None:
    issued: list[str] = []

    def fresh() -> str:
        issued.append(make_token("rotating"))
        return issued[-1]

    async with AsyncClient(target, token=fresh) as client:
        await client.list_analyses_page()
        await client.list_analyses_page()
    assert len(issued) >= 2
