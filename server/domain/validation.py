"""Input rules for texts, analysis types and request ids, shared by every way in."""

from __future__ import annotations

from collections.abc import Sequence

from server.domain.characters import MAX_ID_CHARS, characters_violation, id_violation
from server.domain.errors import ErrorReason, FieldViolation, InvalidArgument
from server.domain.model import AnalysisType

MAX_REQUEST_ID_CHARS = 128


def text_violation(text: str, max_chars: int, field: str = "text") -> FieldViolation | None:
    """Why ``text`` is not acceptable, or None. Length counts code points after trimming."""
    trimmed = text.strip()
    if (bad := characters_violation(text, field)) is not None:
        return bad
    if not trimmed:
        return FieldViolation(field, "must not be empty or only whitespace", ErrorReason.TEXT_EMPTY)
    if len(trimmed) > max_chars:
        return FieldViolation(
            field,
            f"is {len(trimmed)} characters long; the maximum is {max_chars}",
            ErrorReason.TEXT_TOO_LONG,
        )
    return None


def request_id_violation(value: str, field: str = "request_id") -> FieldViolation | None:
    if len(value) > MAX_REQUEST_ID_CHARS:
        return FieldViolation(
            field,
            f"must be at most {MAX_REQUEST_ID_CHARS} characters",
            ErrorReason.REQUEST_ID_INVALID,
        )
    return characters_violation(value, field)


def _metadata(violations: list[FieldViolation], max_chars: int) -> dict[str, str]:
    if any(v.reason is ErrorReason.TEXT_TOO_LONG for v in violations):
        return {"max_chars": str(max_chars)}
    return {}


def validate_analysis_request(
    text: str, analysis_type: AnalysisType | FieldViolation, request_id: str, max_chars: int
) -> tuple[str, AnalysisType, str | None]:
    """The trimmed text, the type and the request id (None if empty), or InvalidArgument
    naming every bad field, the type's violation (found when it was decoded) included."""
    violations = [
        v
        for v in (
            text_violation(text, max_chars),
            analysis_type,
            request_id_violation(request_id),
        )
        if isinstance(v, FieldViolation)
    ]
    if violations or isinstance(analysis_type, FieldViolation):
        raise InvalidArgument(violations, metadata=_metadata(violations, max_chars))
    return text.strip(), analysis_type, request_id or None


def require_id(value: str, field: str = "id") -> str:
    """``value`` if it can be an id: set, at most MAX_ID_CHARS long, storable characters."""
    violation = id_violation(value, field)
    if violation is not None:
        metadata = (
            {"max_chars": str(MAX_ID_CHARS)} if violation.reason is ErrorReason.ID_INVALID else None
        )
        raise InvalidArgument([violation], metadata=metadata)
    return value


def validate_batch_request(
    texts: Sequence[str],
    analysis_type: AnalysisType | FieldViolation,
    request_id: str,
    *,
    max_chars: int,
    max_texts: int,
) -> tuple[list[str], AnalysisType, str | None]:
    """Trimmed texts, type and request id, or InvalidArgument naming every bad index."""
    violations: list[FieldViolation] = []
    metadata: dict[str, str] = {}
    if not texts:
        violations.append(
            FieldViolation("texts", "must hold at least one text", ErrorReason.BATCH_EMPTY)
        )
    elif len(texts) > max_texts:
        violations.append(
            FieldViolation(
                "texts",
                f"holds {len(texts)} texts; the maximum is {max_texts}",
                ErrorReason.BATCH_TOO_LARGE,
            )
        )
        metadata["max_texts"] = str(max_texts)
    else:
        violations += [
            v
            for i, text in enumerate(texts)
            if (v := text_violation(text, max_chars, f"texts[{i}]")) is not None
        ]
    violations += [
        v
        for v in (analysis_type, request_id_violation(request_id))
        if isinstance(v, FieldViolation)
    ]
    if violations or isinstance(analysis_type, FieldViolation):
        metadata.update(_metadata(violations, max_chars))
        raise InvalidArgument(violations, metadata=metadata)
    return [text.strip() for text in texts], analysis_type, request_id or None
