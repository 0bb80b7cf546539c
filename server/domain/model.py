"""Entities and value objects of the analysis domain."""

from __future__ import annotations

from enum import IntEnum


class AnalysisType(IntEnum):
    """Mirrors textlens.v1.AnalysisType (same numbers)."""

    SENTIMENT = 1
    QUALITY = 2
    EMOTION = 3


class AnalysisStatus(IntEnum):
    """Mirrors textlens.v1.AnalysisStatus (same numbers)."""

    PENDING = 1
    PROCESSING = 2
    COMPLETED = 3
    FAILED = 4
