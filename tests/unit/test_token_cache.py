"""Token rules: lifetime, leeway, tenant names, and remembered tokens judged like fresh ones.

The verifier reads time from an injected clock, so these tests move time instead of
sleeping.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from server.auth.keys import ConfigurationError
from server.auth.tokens import JwtKeys, NoSigningKey, TokenVerifier, load_keys
from server.config import Settings
from server.domain.errors import ErrorReason, Unauthenticated

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
KEYS = JwtKeys("HS256", SECRET, SECRET)  # leeway 30 s, lifetime at most 24 h
NOW = 1_900_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _token(**claims: Any) -> str:
    payload: dict[str, Any] = {"sub": "alice", "scope": "analyses:read", "exp": NOW + 600}
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, SECRET)


def _refusal(verifier: TokenVerifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(f"Bearer {token}")
    return refused.value


def test_a_remembered_token_is_refused_once_it_is_past_exp_and_the_leeway() -> None:
    clock = Clock()
    verifier = TokenVerifier(KEYS, clock=clock)
    token = _token(exp=NOW + 60)
    assert verifier.verify(f"Bearer {token}").tenant == "alice"
    clock.now = NOW + 60 + 29  # past exp, within the 30 s leeway: still good (from the cache)
    assert verifier.verify(f"Bearer {token}").tenant == "alice"
    clock.now = NOW + 60 + 30
    assert _refusal(verifier, token).reason is ErrorReason.TOKEN_EXPIRED
    assert _refusal(verifier, token).reason is ErrorReason.TOKEN_EXPIRED  # and stays so


def test_a_token_expired_within_the_leeway_is_accepted_beyond_it_refused() -> None:
    clock = Clock()
    assert TokenVerifier(KEYS, clock=clock).verify(f"Bearer {_token(exp=NOW - 29)}")
    refused = _refusal(TokenVerifier(KEYS, clock=clock), _token(exp=NOW - 31))
    assert refused.reason is ErrorReason.TOKEN_EXPIRED


def test_iat_and_nbf_slightly_ahead_of_the_clock_are_accepted() -> None:
    verifier = TokenVerifier(KEYS, clock=Clock())
    assert verifier.verify(f"Bearer {_token(iat=NOW + 1)}")
    assert verifier.verify(f"Bearer {_token(iat=NOW + 25, nbf=NOW + 25)}")


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_iat_or_nbf_beyond_the_leeway_is_refused(claim: str) -> None:
    refused = _refusal(TokenVerifier(KEYS, clock=Clock()), _token(**{claim: NOW + 60}))
    assert refused.reason is ErrorReason.TOKEN_CLAIMS_INVALID


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 10**30},
        {"exp": NOW + 86_400 + 60, "iat": NOW},  # lives longer than 24 h from its iat
        {"exp": NOW + 86_400 + 60},  # no iat: counted from now
        {"exp": NOW + 3600, "iat": NOW - 86_400},  # issued long ago for a long life
    ],
)
def test_a_token_living_longer_than_the_maximum_is_refused(claims: dict[str, Any]) -> None:
    refused = _refusal(TokenVerifier(KEYS, clock=Clock()), _token(**claims))
    assert refused.reason is ErrorReason.TOKEN_CLAIMS_INVALID
    assert "longer" in refused.message


def test_the_maximum_lifetime_is_configurable() -> None:
    keys = JwtKeys("HS256", SECRET, SECRET, max_lifetime_seconds=300)
    verifier = TokenVerifier(keys, clock=Clock())
    assert verifier.verify(f"Bearer {_token(exp=NOW + 300, iat=NOW)}")
    assert _refusal(verifier, _token(exp=NOW + 301, iat=NOW)).reason is (
        ErrorReason.TOKEN_CLAIMS_INVALID
    )


@pytest.mark.parametrize("exp", ["soon", True, "Infinity"])
def test_a_time_claim_that_is_not_a_number_is_malformed(exp: object) -> None:
    token = _token(exp=exp)
    if exp == "Infinity":  # JSON's non-standard Infinity, which Python's parser accepts
        token = jwt.encode({"sub": "alice", "exp": float("inf")}, SECRET)
    assert _refusal(TokenVerifier(KEYS, clock=Clock()), token).reason is (
        ErrorReason.TOKEN_MALFORMED
    )


@pytest.mark.parametrize(
    "tenant", ["acme", "acme-eu.1", "user@example.com", "org:team_7", "A" * 128]
)
def test_tenants_within_the_documented_character_set_are_accepted(tenant: str) -> None:
    verifier = TokenVerifier(KEYS, clock=Clock())
    assert verifier.verify(f"Bearer {_token(tenant=tenant)}").tenant == tenant


@pytest.mark.parametrize(
    "tenant", ["a|b", "acme\x00", "two words", "", "A" * 129, "é", "a/b", "a\nb", 42, ["x"]]
)
def test_a_tenant_outside_the_character_set_is_refused(tenant: object) -> None:
    refused = _refusal(TokenVerifier(KEYS, clock=Clock()), _token(tenant=tenant))
    assert refused.reason is ErrorReason.TOKEN_CLAIMS_INVALID
    assert refused.metadata == {"claim": "tenant"}


def test_a_subject_used_as_tenant_follows_the_same_rule() -> None:
    verifier = TokenVerifier(KEYS, clock=Clock())
    refused = _refusal(verifier, _token(sub="auth0|12345"))
    assert refused.reason is ErrorReason.TOKEN_CLAIMS_INVALID
    assert refused.metadata == {"claim": "sub"}
    # With a tenant claim of its own, such a subject is fine.
    assert verifier.verify(f"Bearer {_token(sub='auth0|12345', tenant='acme')}").tenant == "acme"
    assert _refusal(verifier, _token(sub="nul\x00", tenant="acme")).reason is (
        ErrorReason.TOKEN_CLAIMS_INVALID
    )


def test_a_bad_signature_is_never_remembered_as_good_and_says_what_went_wrong() -> None:
    verifier = TokenVerifier(KEYS, clock=Clock())
    good = _token()
    forged = jwt.encode(jwt.decode(good, options={"verify_signature": False}), "x" * 43)
    verifier.verify(f"Bearer {good}")
    for _ in range(2):
        refused = _refusal(verifier, forged)
        assert refused.reason is ErrorReason.TOKEN_SIGNATURE_INVALID
        assert "signed with another key" in refused.message


def test_the_cache_holds_at_most_its_size() -> None:
    verifier = TokenVerifier(KEYS, cache_size=3, clock=Clock())
    tokens = [_token(sub=f"user-{i}") for i in range(10)]
    for token in tokens:
        verifier.verify(f"Bearer {token}")
    assert len(verifier._verified) == 3
    assert list(verifier._verified) == tokens[-3:]


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_requiring_an_issuer_or_audience_without_configuring_it_refuses_to_start() -> None:
    with pytest.raises(ConfigurationError, match="TEXTLENS_JWT_ISSUER"):
        load_keys(_settings(jwt_secret=SECRET, jwt_require_issuer=True))
    with pytest.raises(ConfigurationError, match="TEXTLENS_JWT_AUDIENCE"):
        load_keys(_settings(jwt_secret=SECRET, jwt_require_audience=True))
    keys = load_keys(
        _settings(
            jwt_secret=SECRET,
            jwt_issuer="https://issuer.example",
            jwt_require_issuer=True,
            jwt_leeway_seconds=5,
            jwt_max_lifetime_seconds=600,
        )
    )
    assert (keys.issuer, keys.leeway_seconds, keys.max_lifetime_seconds) == (
        "https://issuer.example",
        5,
        600,
    )


def test_a_configured_issuer_and_audience_are_required_in_every_token() -> None:
    keys = JwtKeys("HS256", SECRET, SECRET, issuer="https://issuer.example", audience="textlens")
    verifier = TokenVerifier(keys, clock=Clock())
    good = {"iss": "https://issuer.example", "aud": "textlens"}
    assert verifier.verify(f"Bearer {_token(**good)}")
    for missing in ("iss", "aud"):
        claims = {k: v for k, v in good.items() if k != missing}
        assert _refusal(verifier, _token(**claims)).reason is ErrorReason.TOKEN_CLAIMS_INVALID
    assert _refusal(verifier, _token(**{**good, "aud": "other"})).reason is (
        ErrorReason.TOKEN_CLAIMS_INVALID
    )


def test_without_a_key_only_a_development_secret_will_do() -> None:
    with pytest.raises(NoSigningKey, match="serve --dev"):
        load_keys(_settings())
    keys = load_keys(_settings(), dev_secret="d" * 10 + "ev-secret-from-the-file-0123456")
    assert keys.generated
