"""Verified tokens are remembered, but never past their expiry or beyond the cache's size."""

from __future__ import annotations

import time

import jwt
import pytest

from server.domain.errors import ErrorReason, Unauthenticated
from server.transport.auth import JwtKeys, TokenVerifier

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
KEYS = JwtKeys("HS256", SECRET, SECRET)


def _token(exp: float, subject: str = "alice") -> str:
    return jwt.encode({"sub": subject, "scope": "analyses:read", "exp": exp}, SECRET)


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    verifier = TokenVerifier(KEYS)
    expires = int(time.time()) + 2
    token = _token(expires)
    assert verifier.verify(f"Bearer {token}").tenant == "alice"
    assert verifier.verify(f"Bearer {token}").tenant == "alice"  # from the cache

    time.sleep(max(0.0, expires - time.time()) + 0.1)
    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(f"Bearer {token}")
    assert refused.value.reason is ErrorReason.TOKEN_EXPIRED


def test_a_bad_signature_is_never_remembered_as_good() -> None:
    verifier = TokenVerifier(KEYS)
    good = _token(time.time() + 60)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    verifier.verify(f"Bearer {good}")
    for _ in range(2):
        with pytest.raises(Unauthenticated) as refused:
            verifier.verify(f"Bearer {forged}")
        assert refused.value.reason is ErrorReason.TOKEN_SIGNATURE_INVALID


def test_the_cache_holds_at_most_its_size() -> None:
    verifier = TokenVerifier(KEYS, cache_size=3)
    tokens = [_token(time.time() + 60, subject=f"user-{i}") for i in range(10)]
    for token in tokens:
        verifier.verify(f"Bearer {token}")
    assert len(verifier._verified) == 3
    assert list(verifier._verified) == tokens[-3:]
