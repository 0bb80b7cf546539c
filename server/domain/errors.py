"""The domain's error tree; transport maps each class to one gRPC status code.

TextLensError
├── InvalidArgument        a request field is wrong (carries FieldViolations)
├── NotFound               no such resource for this tenant
├── AlreadyExists          an idempotency key reused with another payload
├── FailedPrecondition     the resource is in the wrong state
├── Unauthenticated        no valid credentials
├── PermissionDenied       valid credentials without the needed scope
├── ResourceExhausted      over the rate limit (carries retry_after)
├── Unavailable            storage down or server draining; retry later
└── NotImplementedYet      a method this server does not provide
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class ErrorReason(StrEnum):
    """Mirrors textlens.v1.ErrorReason, without the ERROR_REASON_ prefix."""

    FIELD_INVALID = "FIELD_INVALID"
    TEXT_EMPTY = "TEXT_EMPTY"
    TEXT_TOO_LONG = "TEXT_TOO_LONG"
    ANALYSIS_TYPE_MISSING = "ANALYSIS_TYPE_MISSING"
    ANALYSIS_TYPE_UNKNOWN = "ANALYSIS_TYPE_UNKNOWN"
    PAGE_SIZE_NEGATIVE = "PAGE_SIZE_NEGATIVE"
    PAGE_TOKEN_INVALID = "PAGE_TOKEN_INVALID"
    ORDER_BY_INVALID = "ORDER_BY_INVALID"
    BATCH_EMPTY = "BATCH_EMPTY"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    STREAM_MESSAGE_EMPTY = "STREAM_MESSAGE_EMPTY"
    STREAM_MESSAGE_TOO_LARGE = "STREAM_MESSAGE_TOO_LARGE"
    REQUEST_ID_INVALID = "REQUEST_ID_INVALID"
    ID_MISSING = "ID_MISSING"
    REQUEST_MALFORMED = "REQUEST_MALFORMED"
    CHARACTERS_INVALID = "CHARACTERS_INVALID"
    ID_INVALID = "ID_INVALID"
    LANGUAGE_UNSUPPORTED = "LANGUAGE_UNSUPPORTED"
    ANALYSIS_NOT_FOUND = "ANALYSIS_NOT_FOUND"
    BATCH_NOT_FOUND = "BATCH_NOT_FOUND"
    REQUEST_ID_REUSED = "REQUEST_ID_REUSED"
    BATCH_FINISHED = "BATCH_FINISHED"
    TOKEN_MISSING = "TOKEN_MISSING"
    TOKEN_MALFORMED = "TOKEN_MALFORMED"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_SIGNATURE_INVALID = "TOKEN_SIGNATURE_INVALID"
    TOKEN_CLAIMS_INVALID = "TOKEN_CLAIMS_INVALID"
    SCOPE_MISSING = "SCOPE_MISSING"
    RATE_LIMITED = "RATE_LIMITED"
    CONCURRENCY_LIMITED = "CONCURRENCY_LIMITED"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    SHUTTING_DOWN = "SHUTTING_DOWN"
    INTERNAL = "INTERNAL"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field: its path (``texts[3]``), what is wrong, and why."""

    field: str
    description: str
    reason: ErrorReason = ErrorReason.FIELD_INVALID


class TextLensError(Exception):
    """Base of every error the service reports to its callers."""

    default_reason = ErrorReason.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        reason: ErrorReason | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(TextLensError):
    default_reason = ErrorReason.FIELD_INVALID

    def __init__(
        self,
        violations: Sequence[FieldViolation],
        *,
        message: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one violation")
        self.violations = tuple(violations)
        first = self.violations[0]
        if message is None:
            message = f"{first.field}: {first.description}"
            if len(self.violations) > 1:
                message += f" (and {len(self.violations) - 1} more invalid fields)"
        super().__init__(message, reason=first.reason, metadata=metadata)

    @classmethod
    def single(
        cls,
        field: str,
        description: str,
        reason: ErrorReason = ErrorReason.FIELD_INVALID,
        metadata: Mapping[str, str] | None = None,
    ) -> InvalidArgument:
        return cls([FieldViolation(field, description, reason)], metadata=metadata)


class NotFound(TextLensError):
    default_reason = ErrorReason.ANALYSIS_NOT_FOUND


class AlreadyExists(TextLensError):
    default_reason = ErrorReason.REQUEST_ID_REUSED


class FailedPrecondition(TextLensError):
    default_reason = ErrorReason.BATCH_FINISHED


class Unauthenticated(TextLensError):
    default_reason = ErrorReason.TOKEN_MISSING


class PermissionDenied(TextLensError):
    default_reason = ErrorReason.SCOPE_MISSING


class ResourceExhausted(TextLensError):
    """Over the rate limit; ``retry_after`` is None when waiting cannot help."""

    default_reason = ErrorReason.RATE_LIMITED

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        subject: str,
        quota: str,
        reason: ErrorReason | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata={"limit": quota})
        self.retry_after = retry_after
        self.subject = subject
        self.quota = quota


class Unavailable(TextLensError):
    default_reason = ErrorReason.STORAGE_UNAVAILABLE


class NotImplementedYet(TextLensError):
    default_reason = ErrorReason.NOT_IMPLEMENTED
