"""Which characters a string field may hold, and how long an id may be, on every backend.

PostgreSQL cannot store U+0000 in a text or jsonb value, and no database can store a lone
surrogate (it has no UTF-8 encoding). SQLite would take both, so the rule is checked here,
at the edge, and holds whatever the backend: a request that breaks it is INVALID_ARGUMENT
and never reaches storage.
"""

from __future__ import annotations

import re

from server.domain.errors import ErrorReason, FieldViolation

# Ids are UUIDs (36 characters); the bound leaves room and keeps error messages short.
MAX_ID_CHARS = 64
# Page tokens the server issues are about 130 characters.
MAX_PAGE_TOKEN_CHARS = 512

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(value: str) -> re.Match[str] | None:
    """The first character of ``value`` that cannot be stored, if any."""
    if value.isascii():  # a flag of the string object: no scan
        return _UNSTORABLE.search(value) if "\x00" in value else None
    return _UNSTORABLE.search(value)


def characters_violation(value: str, field: str) -> FieldViolation | None:
    found = unstorable(value)
    if found is None:
        return None
    return FieldViolation(
        field,
        f"holds U+{ord(found.group()):04X} at position {found.start()}, "
        "a character that cannot be stored",
        ErrorReason.CHARACTERS_INVALID,
    )


def id_violation(value: str, field: str = "id") -> FieldViolation | None:
    """Why ``value`` cannot be an id, or None. The value itself is never quoted."""
    if not value:
        return FieldViolation(field, "must be set", ErrorReason.ID_MISSING)
    if len(value) > MAX_ID_CHARS:
        return FieldViolation(
            field,
            f"is {len(value)} characters long; ids are at most {MAX_ID_CHARS}",
            ErrorReason.ID_INVALID,
        )
    return characters_violation(value, field)
