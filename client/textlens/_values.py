"""Friendly values for the contract's enums: "sentiment" as well as ANALYSIS_TYPE_SENTIMENT."""

from __future__ import annotations

import enum
from typing import Final, Literal, cast

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from textlens.v1 import analysis_pb2, batch_pb2

#: An analysis type: "sentiment", "quality", "emotion" (any case), the full enum name
#: ("ANALYSIS_TYPE_SENTIMENT") or its number (analysis_pb2.ANALYSIS_TYPE_SENTIMENT).
AnalysisTypeLike = str | int
#: An analysis status as a short name ("completed"), full name or number.
AnalysisStatusLike = str | int
#: A batch status as a short name ("running"), full name or number.
BatchStatusLike = str | int


class _Default(enum.Enum):
    """The type of DEFAULT: "use the client's setting" for per-call options."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Final = _Default.DEFAULT
Default = Literal[_Default.DEFAULT]


def _coerce(wrapper: EnumTypeWrapper, prefix: str, value: str | int, what: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a name or a number, not a bool")
    if isinstance(value, int):
        return value
    name = value.strip().upper().replace("-", "_")
    if not name.startswith(prefix):
        name = prefix + name
    try:
        return int(wrapper.Value(name))
    except ValueError:
        choices = ", ".join(short_names(wrapper, prefix))
        raise ValueError(f"unknown {what} {value!r}; expected one of {choices}") from None


def short_names(wrapper: EnumTypeWrapper, prefix: str) -> list[str]:
    """The values' names without prefix, lower-cased, UNSPECIFIED left out."""
    return [
        name.removeprefix(prefix).lower()
        for name in wrapper.keys()  # noqa: SIM118 - an EnumTypeWrapper is not a dict
        if not name.endswith("_UNSPECIFIED")
    ]


def analysis_type(value: AnalysisTypeLike) -> analysis_pb2.AnalysisType:
    number = _coerce(analysis_pb2.AnalysisType, "ANALYSIS_TYPE_", value, "analysis type")
    return cast("analysis_pb2.AnalysisType", number)


def analysis_status(value: AnalysisStatusLike) -> analysis_pb2.AnalysisStatus:
    number = _coerce(analysis_pb2.AnalysisStatus, "ANALYSIS_STATUS_", value, "analysis status")
    return cast("analysis_pb2.AnalysisStatus", number)


def batch_status(value: BatchStatusLike) -> batch_pb2.BatchStatus:
    number = _coerce(batch_pb2.BatchStatus, "BATCH_STATUS_", value, "batch status")
    return cast("batch_pb2.BatchStatus", number)


ANALYSIS_TYPES = short_names(analysis_pb2.AnalysisType, "ANALYSIS_TYPE_")
ANALYSIS_STATUSES = short_names(analysis_pb2.AnalysisStatus, "ANALYSIS_STATUS_")
BATCH_STATUSES = short_names(batch_pb2.BatchStatus, "BATCH_STATUS_")
TERMINAL_BATCH_STATUSES = frozenset(
    {
        batch_pb2.BATCH_STATUS_COMPLETED,
        batch_pb2.BATCH_STATUS_CANCELLED,
        batch_pb2.BATCH_STATUS_FAILED,
    }
)
