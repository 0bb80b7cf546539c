"""Secrets: refusing weak ones, the development secret file, and keys derived by purpose.

One configured secret signs tokens (HS256) and, through keys derived from it with a
label, authenticates page tokens and names and encrypts cache entries, so that a key
leaked from one use opens none of the others.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import itertools
import math
import os
import re
import secrets
from pathlib import Path

# Values that ship in examples and templates: a deployment that kept one is unprotected,
# whatever its length. Compared on letters and digits only, case-insensitively.
PLACEHOLDERS = (
    "changeme",
    "changeit",
    "replaceme",
    "localdevelopmentonly",
    "yoursecret",
    "mysecret",
    "secretkey",
    "supersecret",
    "topsecret",
    "password",
    "example",
    "placeholder",
    "notasecret",
    "insecure",
    "dummy",
    "default",
    "xxxxxxxx",
)
EXACT_PLACEHOLDERS = frozenset({"secret", "test", "dev", "jwt", "key", "token", "admin"})
MIN_SECRET_BYTES = 32
# Estimated from character frequencies (an upper bound for patterned text), so that
# `openssl rand -base64 32`, `-hex 32` and `secrets.token_urlsafe(32)` pass with margin.
MIN_ESTIMATED_BITS = 128

SECRET_HINT = "use e.g. `openssl rand -base64 32`"  # noqa: S105 - advice, not a secret

DEV_SECRET_FILE = Path(".textlens-dev-secret")

_NOT_ALNUM = re.compile(r"[^a-z0-9]")


class ConfigurationError(ValueError):
    """The settings cannot work together; the message says what to set."""


def estimated_bits(value: str) -> float:
    """Shannon entropy of the value's characters times its length."""
    counts = collections.Counter(value)
    total = len(value)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_char * total


def _periodic(value: str) -> bool:
    """True when the value is a shorter string repeated (``abcabcabc``)."""
    return len(value) > 1 and (value + value).find(value, 1) < len(value)


def _sequential(value: str) -> bool:
    """True when most neighbouring characters are equal or adjacent (``abcd``, ``1234``)."""
    steps = [abs(ord(a) - ord(b)) <= 1 for a, b in itertools.pairwise(value)]
    return sum(steps) * 2 >= len(steps)


def weakness(value: str) -> str | None:
    """Why ``value`` must not be used as a secret, or None."""
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"must be at least {MIN_SECRET_BYTES} bytes ({SECRET_HINT})"
    folded = _NOT_ALNUM.sub("", value.lower())
    if folded in EXACT_PLACEHOLDERS or any(word in folded for word in PLACEHOLDERS):
        return f"is a placeholder from an example, not a secret ({SECRET_HINT})"
    if _periodic(value) or _sequential(value) or estimated_bits(value) < MIN_ESTIMATED_BITS:
        return f"is too predictable to be a secret ({SECRET_HINT})"
    return None


def read_secret_file(path: Path) -> str:
    """A secret kept in a file (a mounted Kubernetes or Docker secret): its content without
    the trailing newline editors and `echo` add."""
    return path.read_text().rstrip("\r\n")


def dev_secret(path: Path = DEV_SECRET_FILE) -> tuple[str, bool]:
    """The development secret kept in ``path``, created (mode 0600) on first use; and
    whether it was created now."""
    try:
        return read_secret_file(path), False
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it meanwhile: use theirs
        return read_secret_file(path), False
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    return value, True


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from a configured secret (HMAC-SHA256 with
    the purpose as label: HKDF-Expand's one-block case)."""
    return hmac.new(
        secret.encode(), b"textlens/" + purpose.encode() + b"\x01", hashlib.sha256
    ).digest()


def purpose_secret(
    *, page_token_secret: str | None, jwt_secret: str | None, dev_secret: str | None
) -> str:
    """The secret that page-token and cache keys are derived from: the page-token secret,
    else the HS256 secret, else the development secret. RS256/ES256 deployments hold no
    shared secret of their own, so they must configure one."""
    secret = page_token_secret or jwt_secret or dev_secret
    if secret is None:
        raise ConfigurationError(
            "TEXTLENS_PAGE_TOKEN_SECRET (or _FILE) is required with "
            "TEXTLENS_JWT_PUBLIC_KEY_FILE: it signs page tokens and keys the result cache, "
            "and every replica needs the same one"
        )
    return secret
