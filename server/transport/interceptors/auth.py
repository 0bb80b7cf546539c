"""Auth interceptor: a valid bearer token with the method's scope on every textlens call.

Health and reflection stay open. The token's tenant travels on in the call state, and
every use case scopes its reads and writes to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from server.auth.tokens import METHOD_SCOPES, PROTECTED_PREFIXES, TokenVerifier
from server.service.concurrency import TenantActivity
from server.transport.context import current_call
from server.transport.interceptors.base import Context, Method, ScopeInterceptor


class AuthInterceptor(ScopeInterceptor):
    def __init__(self, verifier: TokenVerifier, activity: TenantActivity | None = None) -> None:
        super().__init__()
        self._verifier = verifier
        self._activity = activity

    def applies_to(self, method: str) -> bool:
        return method.startswith(PROTECTED_PREFIXES)

    @asynccontextmanager
    async def scope(self, method: Method, context: Context) -> AsyncIterator[None]:
        authorization = next(
            (v for k, v in context.invocation_metadata() or () if k == "authorization"), None
        )
        principal = self._verifier.verify(authorization if isinstance(authorization, str) else None)
        # A method missing from the map (added to the contract, not here) needs every scope.
        required = METHOD_SCOPES.get(method.path)
        if required is None:
            for scope in sorted(_ALL):
                principal.require(scope)
        else:
            principal.require(required)
        call = current_call.get(None)
        if call is not None:
            call.tenant = principal.tenant
            call.scopes = principal.scopes
        structlog.contextvars.bind_contextvars(tenant=principal.tenant)
        if self._activity is not None:
            self._activity.seen(principal.tenant)
        yield


_ALL = frozenset(METHOD_SCOPES.values())
