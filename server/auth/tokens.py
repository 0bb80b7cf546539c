"""JWT bearer tokens: verification for the auth interceptor, issuing for `textlens-server token`.

The algorithm is fixed by configuration, never taken from the token: HS256 with a shared
secret, or RS256/ES256 with a public key (the algorithm follows the key's type unless
TEXTLENS_JWT_ALGORITHM says otherwise). So a token signed with ``none``, or an HS256
token "signed" with the public key, is refused.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from server.auth.keys import ConfigurationError
from server.config import Settings
from server.domain.characters import unstorable
from server.domain.errors import ErrorReason, PermissionDenied, Unauthenticated

ALL_SCOPES = ("analyses:read", "analyses:write", "batches:read", "batches:write")

# The scope each textlens method needs; methods not listed (health, reflection) are open.
METHOD_SCOPES: Mapping[str, str] = {
    "/textlens.v1.AnalysisService/CreateAnalysis": "analyses:write",
    "/textlens.v1.AnalysisService/GetAnalysis": "analyses:read",
    "/textlens.v1.AnalysisService/ListAnalyses": "analyses:read",
    "/textlens.v1.AnalysisService/DeleteAnalysis": "analyses:write",
    "/textlens.v1.AnalysisService/AnalyzeStream": "analyses:write",
    "/textlens.v1.BatchService/CreateBatch": "batches:write",
    "/textlens.v1.BatchService/GetBatch": "batches:read",
    "/textlens.v1.BatchService/ListBatches": "batches:read",
    "/textlens.v1.BatchService/CancelBatch": "batches:write",
    "/textlens.v1.BatchService/WatchBatch": "batches:read",
}
PROTECTED_PREFIXES = ("/textlens.v1.",)

# Tenants name rows, cache keys, rate-limit keys and log fields: a short, printable name
# with no separator of any of them (no "|", no spaces, no control characters).
TENANT_PATTERN = re.compile(r"[A-Za-z0-9._@:-]{1,128}")
TENANT_RULE = "1 to 128 of A-Z a-z 0-9 . _ @ : -"
MAX_SUBJECT_CHARS = 256

DEFAULT_LEEWAY_SECONDS = 30.0
DEFAULT_MAX_LIFETIME_SECONDS = 86_400

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    tenant: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise PermissionDenied(
                f"this method needs the scope {scope!r}",
                reason=ErrorReason.SCOPE_MISSING,
                metadata={"required_scope": scope},
            )


@dataclass(frozen=True, slots=True)
class JwtKeys:
    """What verifies tokens (and, for HS256, signs them)."""

    algorithm: str
    verifying_key: Any
    signing_key: Any | None
    issuer: str | None = None
    audience: str | None = None
    # The development secret (``serve --dev``): no key was configured.
    generated: bool = False
    # Clock skew tolerated on exp, nbf and iat, and the longest life a token may have.
    leeway_seconds: float = DEFAULT_LEEWAY_SECONDS
    max_lifetime_seconds: int = DEFAULT_MAX_LIFETIME_SECONDS


def _algorithm_for(public_key: Any) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ES256"
    raise ConfigurationError("TEXTLENS_JWT_PUBLIC_KEY_FILE must hold an RSA or EC public key")


class NoSigningKey(ConfigurationError):
    """Neither a key is configured nor a development secret given."""


NO_KEY_MESSAGE = (
    "no token key configured: set TEXTLENS_JWT_SECRET (or TEXTLENS_JWT_SECRET_FILE), or "
    "TEXTLENS_JWT_PUBLIC_KEY_FILE; for local development run `textlens-server serve --dev`"
)


def load_keys(settings: Settings, dev_secret: str | None = None) -> JwtKeys:
    """The configured keys; ``dev_secret`` only when none is configured (``serve --dev``)."""
    issuer, audience = settings.jwt_issuer, settings.jwt_audience
    if settings.jwt_require_issuer and not issuer:
        raise ConfigurationError(
            "TEXTLENS_JWT_REQUIRE_ISSUER is set, but TEXTLENS_JWT_ISSUER is not"
        )
    if settings.jwt_require_audience and not audience:
        raise ConfigurationError(
            "TEXTLENS_JWT_REQUIRE_AUDIENCE is set, but TEXTLENS_JWT_AUDIENCE is not"
        )
    policy: dict[str, Any] = {
        "issuer": issuer,
        "audience": audience,
        "leeway_seconds": settings.jwt_leeway_seconds,
        "max_lifetime_seconds": settings.jwt_max_lifetime_seconds,
    }
    if settings.jwt_public_key_file is not None:
        path = Path(settings.jwt_public_key_file)
        try:
            public_key = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError):
            raise ConfigurationError(
                f"TEXTLENS_JWT_PUBLIC_KEY_FILE: {path} does not hold a PEM public key"
            ) from None
        algorithm = settings.jwt_algorithm or _algorithm_for(public_key)
        if algorithm == "HS256":
            raise ConfigurationError(
                "TEXTLENS_JWT_ALGORITHM=HS256 needs TEXTLENS_JWT_SECRET, not a key"
            )
        return JwtKeys(algorithm, public_key, None, **policy)
    if settings.jwt_algorithm not in (None, "HS256"):
        raise ConfigurationError(f"{settings.jwt_algorithm} needs TEXTLENS_JWT_PUBLIC_KEY_FILE")
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
        return JwtKeys("HS256", secret, secret, **policy)
    if dev_secret is None:
        raise NoSigningKey(NO_KEY_MESSAGE)
    return JwtKeys("HS256", dev_secret, dev_secret, generated=True, **policy)


# Verified tokens remembered, so that a client reusing its token (as clients do) pays for
# the signature check once, not on every call. Bounded; an entry is good until its `exp`.
VERIFIED_CACHE_SIZE = 4096


class TokenVerifier:
    """Verifies bearer tokens against the configured keys and policy, remembering good ones.

    Times (exp, nbf, iat, the lifetime) are checked here against ``clock``, not by PyJWT,
    so that a remembered token and a fresh one are judged by the same rules and tests
    can move time instead of waiting.
    """

    def __init__(
        self,
        keys: JwtKeys,
        *,
        cache_size: int = VERIFIED_CACHE_SIZE,
        clock: Clock = time.time,
    ) -> None:
        self._keys = keys
        self._cache_size = cache_size
        self._clock = clock
        # token -> (principal, the time after which it is refused as expired)
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def verify(self, authorization: str | None) -> Principal:
        """The principal of an ``authorization: Bearer <JWT>`` value, or Unauthenticated."""
        if not authorization:
            raise Unauthenticated(
                "missing 'authorization: Bearer <token>' metadata",
                reason=ErrorReason.TOKEN_MISSING,
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "the authorization metadata must be 'Bearer <token>'",
                reason=ErrorReason.TOKEN_MALFORMED,
            )
        token = token.strip()
        now = self._clock()
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires = cached
            if now < expires:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]  # checked again below: refused as expired
        claims = self._decode(token)
        expires = self._check_times(claims, now)
        principal = self._principal(claims)
        self._verified[token] = (principal, expires)
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return principal

    def _check_times(self, claims: Mapping[str, Any], now: float) -> float:
        """Checks exp, nbf, iat and the token's lifetime; returns when it stops being
        accepted (exp plus the leeway)."""
        keys = self._keys
        leeway = keys.leeway_seconds
        exp = _numeric(claims, "exp")
        nbf = _numeric(claims, "nbf")
        iat = _numeric(claims, "iat")
        assert exp is not None  # required by _decode
        if exp + leeway <= now:
            raise Unauthenticated("the token has expired", reason=ErrorReason.TOKEN_EXPIRED)
        if nbf is not None and nbf > now + leeway:
            raise _claims_invalid("the token is not valid yet (its 'nbf' is in the future)")
        if iat is not None and iat > now + leeway:
            raise _claims_invalid("the token was issued in the future (its 'iat')")
        lifetime = exp - (iat if iat is not None else now)
        if lifetime > keys.max_lifetime_seconds:
            raise _claims_invalid(
                f"the token lives longer than this server accepts "
                f"({keys.max_lifetime_seconds} s from its 'iat', or from now without one)"
            )
        return exp + leeway

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        subject = claims.get("sub")
        if (
            not isinstance(subject, str)
            or not subject
            or len(subject) > MAX_SUBJECT_CHARS
            or unstorable(subject) is not None
        ):
            raise _claims_invalid(
                f"the token's subject ('sub') must be 1 to {MAX_SUBJECT_CHARS} characters"
            )
        tenant_claim = claims.get("tenant")
        tenant = tenant_claim if tenant_claim is not None else subject
        if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
            source = "'tenant' claim" if tenant_claim is not None else "subject, used as tenant,"
            raise Unauthenticated(
                f"the token's {source} must be {TENANT_RULE}",
                reason=ErrorReason.TOKEN_CLAIMS_INVALID,
                metadata={"claim": "tenant" if tenant_claim is not None else "sub"},
            )
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise _claims_invalid("the token's 'scope' claim must be a space-separated string")
        return Principal(subject=subject, tenant=tenant, scopes=frozenset(scope.split()))

    def _decode(self, token: str) -> dict[str, Any]:
        keys = self._keys
        try:
            return jwt.decode(
                token,
                keys.verifying_key,
                algorithms=[keys.algorithm],
                issuer=keys.issuer,
                audience=keys.audience,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": keys.audience is not None,
                    # Judged by _check_times, against this verifier's clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.MissingRequiredClaimError as exc:
            reason = ErrorReason.TOKEN_EXPIRED if exc.claim == "exp" else None
            raise Unauthenticated(
                f"the token has no {exc.claim!r} claim",
                reason=reason or ErrorReason.TOKEN_CLAIMS_INVALID,
            ) from None
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError):
            raise Unauthenticated(
                f"the token's {keys.algorithm} signature does not match this server's key: "
                "it was signed with another key (was the server restarted with a new "
                "secret, or is the token from another deployment?)",
                reason=ErrorReason.TOKEN_SIGNATURE_INVALID,
            ) from None
        except (jwt.InvalidIssuerError, jwt.InvalidAudienceError):
            raise _claims_invalid("the token's issuer or audience is not accepted") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated(
                "the token is not a well-formed JWT", reason=ErrorReason.TOKEN_MALFORMED
            ) from None


def _numeric(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim (RFC 7519: seconds, possibly fractional), or None if absent."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Unauthenticated(
            f"the token's {name!r} claim is not a number of seconds",
            reason=ErrorReason.TOKEN_MALFORMED,
        )
    return float(value)


def _claims_invalid(message: str) -> Unauthenticated:
    return Unauthenticated(message, reason=ErrorReason.TOKEN_CLAIMS_INVALID)


def issue_token(
    keys: JwtKeys,
    *,
    subject: str,
    scopes: Iterable[str],
    tenant: str | None = None,
    ttl_seconds: int = 3600,
    signing_key: Any | None = None,
) -> str:
    """A signed token; RS256/ES256 need the private key (``signing_key``)."""
    key = signing_key if signing_key is not None else keys.signing_key
    if key is None:
        raise ValueError(f"signing {keys.algorithm} tokens needs the private key")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if tenant:
        claims["tenant"] = tenant
    if keys.issuer:
        claims["iss"] = keys.issuer
    if keys.audience:
        claims["aud"] = keys.audience
    return jwt.encode(claims, key, algorithm=keys.algorithm)


def token_banner(keys: JwtKeys, host: str, port: int, secret_file: Path | None = None) -> str:
    """What ``serve --dev`` prints: a ready-to-use token signed with the development secret."""
    ttl = min(86_400, keys.max_lifetime_seconds)
    token = issue_token(keys, subject="local", scopes=ALL_SCOPES, ttl_seconds=ttl)
    where = f" kept in {secret_file}" if secret_file is not None else ""
    return (
        f"Development mode: tokens are signed with a local secret{where} (no "
        f"TEXTLENS_JWT_SECRET is set). A token with every scope, valid {ttl // 3600} h:\n"
        f"  export TEXTLENS_TOKEN={token}\n"
        f'  {_grpcurl()} -plaintext -H "authorization: Bearer $TEXTLENS_TOKEN" {host}:{port} list'
    )


def _grpcurl() -> str:
    """grpcurl as a shell in this directory finds it: on PATH, else the one installed
    beside this interpreter (.venv/bin/grpcurl under ``make run``)."""
    beside = Path(sys.executable).parent / "grpcurl"
    if shutil.which("grpcurl") or not beside.exists():
        return "grpcurl"
    return os.path.relpath(beside) if beside.is_relative_to(Path.cwd()) else str(beside)
