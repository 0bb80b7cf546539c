"""JWT bearer tokens: verification for the auth interceptor, issuing for `textlens-server token`.

The algorithm is fixed by configuration, never taken from the token: HS256 with a shared
secret, or RS256/ES256 with a public key (the algorithm follows the key's type unless
TEXTLENS_JWT_ALGORITHM says otherwise). So a token signed with ``none``, or an HS256
token "signed" with the public key, is refused.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from server.config import Settings
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

# Tenants name rows and rate-limit keys: keep them short and printable.
MAX_TENANT_CHARS = 256


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
    generated: bool = False  # a random per-process secret: no key was configured


def _algorithm_for(public_key: Any) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ES256"
    raise ValueError("TEXTLENS_JWT_PUBLIC_KEY_FILE must hold an RSA or EC public key (PEM)")


def load_keys(settings: Settings) -> JwtKeys:
    """The configured keys, or a random HS256 secret for this process when none is set."""
    issuer, audience = settings.jwt_issuer, settings.jwt_audience
    if settings.jwt_public_key_file is not None:
        public_key = serialization.load_pem_public_key(
            Path(settings.jwt_public_key_file).read_bytes()
        )
        algorithm = settings.jwt_algorithm or _algorithm_for(public_key)
        if algorithm == "HS256":
            raise ValueError("TEXTLENS_JWT_ALGORITHM=HS256 needs TEXTLENS_JWT_SECRET, not a key")
        return JwtKeys(algorithm, public_key, None, issuer, audience)
    if settings.jwt_algorithm not in (None, "HS256"):
        raise ValueError(f"{settings.jwt_algorithm} needs TEXTLENS_JWT_PUBLIC_KEY_FILE")
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
        return JwtKeys("HS256", secret, secret, issuer, audience)
    secret = secrets.token_urlsafe(32)
    return JwtKeys("HS256", secret, secret, issuer, audience, generated=True)


# Verified tokens remembered, so that a client reusing its token (as clients do) pays for
# the signature check once, not on every call. Bounded; an entry is good until its `exp`.
VERIFIED_CACHE_SIZE = 4096


class TokenVerifier:
    def __init__(self, keys: JwtKeys, *, cache_size: int = VERIFIED_CACHE_SIZE) -> None:
        self._keys = keys
        self._cache_size = cache_size
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
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires = cached
            if time.time() < expires:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]  # decoding it again raises TOKEN_EXPIRED
        claims = self._decode(token)
        principal = self._principal(claims)
        self._verified[token] = (principal, float(claims["exp"]))
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return principal

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        subject = claims.get("sub")
        tenant = claims.get("tenant") or subject
        if not isinstance(subject, str) or not subject:
            raise _claims_invalid("the token has no subject ('sub')")
        if not isinstance(tenant, str) or len(tenant) > MAX_TENANT_CHARS:
            raise _claims_invalid("the token's tenant is not a string of at most 256 characters")
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
                options={"require": ["exp", "sub"], "verify_aud": keys.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(
                "the token has expired", reason=ErrorReason.TOKEN_EXPIRED
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            reason = ErrorReason.TOKEN_EXPIRED if exc.claim == "exp" else None
            raise Unauthenticated(
                f"the token has no {exc.claim!r} claim",
                reason=reason or ErrorReason.TOKEN_CLAIMS_INVALID,
            ) from None
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError):
            raise Unauthenticated(
                f"the token's signature is not valid for {keys.algorithm}",
                reason=ErrorReason.TOKEN_SIGNATURE_INVALID,
            ) from None
        except (jwt.InvalidIssuerError, jwt.InvalidAudienceError, jwt.ImmatureSignatureError):
            raise _claims_invalid(
                "the token's issuer, audience or start time is not accepted"
            ) from None
        except jwt.InvalidTokenError:
            raise Unauthenticated(
                "the token is not a well-formed JWT", reason=ErrorReason.TOKEN_MALFORMED
            ) from None


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


def token_banner(secret: str, host: str, port: int) -> str:
    """What a keyless run prints: a ready-to-use token for this run's random secret."""
    token = issue_token(
        JwtKeys("HS256", secret, secret), subject="local", scopes=ALL_SCOPES, ttl_seconds=86400
    )
    return (
        "No TEXTLENS_JWT_SECRET or TEXTLENS_JWT_PUBLIC_KEY_FILE is set, so this run signs "
        "tokens with a random secret. A token with every scope, valid 24 h:\n"
        f"  export TEXTLENS_TOKEN={token}\n"
        f'  grpcurl -plaintext -H "authorization: Bearer $TEXTLENS_TOKEN" {host}:{port} list'
    )
