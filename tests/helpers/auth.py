"""Tokens and authenticated channels for tests: every textlens call needs a bearer token."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import grpc
import grpc.aio

from server.auth.tokens import ALL_SCOPES, JwtKeys, issue_token
from server.config import Settings

TEST_SECRET = "textlens-tests-shared-secret-0123456789"
UNLIMITED = "1000000000/minute"
TEST_KEYS = JwtKeys("HS256", TEST_SECRET, TEST_SECRET)


def make_token(
    tenant: str = "tenant-a",
    *,
    scopes: Iterable[str] = ALL_SCOPES,
    subject: str | None = None,
    ttl: int = 3600,
) -> str:
    return issue_token(
        TEST_KEYS,
        subject=subject or f"user-of-{tenant}",
        scopes=scopes,
        tenant=tenant,
        ttl_seconds=ttl,
    )


def server_settings(**overrides: Any) -> Settings:
    """Settings for an in-process test server: a free port, the tests' JWT secret, and a
    rate limit out of the way (the tests of rate limiting set their own)."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "jwt_secret": TEST_SECRET,
        "rate_limit": UNLIMITED,
    }
    values.update(overrides)
    return Settings(**values)


class _Bearer:
    """Adds ``authorization: Bearer <token>`` to a call's metadata."""

    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def _details(self, details: Any) -> Any:
        return details._replace(metadata=(*(details.metadata or ()), *self._metadata))


# grpc.aio files each interceptor under the first call kind it implements, so each kind
# needs an interceptor of its own.
class _UnaryUnary(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStream(_Bearer, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnary(_Bearer, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[type-arg]
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _StreamStream(_Bearer, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[type-arg]
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


def authed_channel(target: str | int, token: str | None = None, **kwargs: Any) -> grpc.aio.Channel:
    """A plaintext channel to ``target`` (or 127.0.0.1:port) sending a bearer token."""
    address = f"127.0.0.1:{target}" if isinstance(target, int) else target
    # grpc's stubs type interceptors as something to cast: they are not generic at run time.
    interceptors: list[Any] = [
        kind(token or make_token())
        for kind in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)
    ]
    return grpc.aio.insecure_channel(address, interceptors=interceptors, **kwargs)
