"""Entities and value objects of the analysis domain."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.domain.analyzers.base import AnalysisResult

DEFAULT_TENANT = "default"


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


@dataclass(slots=True)
class Analysis:
    """One text, the analysis asked of it, and its outcome."""

    id: str
    tenant: str
    text: str
    analysis_type: AnalysisType
    status: AnalysisStatus
    create_time: datetime
    update_time: datetime
    result: AnalysisResult | None = None
    error_message: str = ""
    processing_time_ms: float = 0.0
    process_time: datetime | None = None
    batch_id: str | None = None
    # Position of the text in its batch; (batch_id, batch_item) has exactly one result.
    batch_item: int | None = None
    request_id: str | None = None
    # Fingerprint of (analysis_type, text): tells a retry from a reuse of request_id.
    payload_hash: str | None = None
    # The language the text was analysed as (BCP-47) and the confidence in it.
    language: str = "en"
    language_confidence: float = 0.0


class BatchStatus(IntEnum):
    """Mirrors textlens.v1.BatchStatus (same numbers)."""

    PENDING = 1
    RUNNING = 2
    COMPLETED = 3
    CANCELLED = 4
    FAILED = 5

    @property
    def finished(self) -> bool:
        return self in (BatchStatus.COMPLETED, BatchStatus.CANCELLED, BatchStatus.FAILED)


@dataclass(slots=True)
class Batch:
    """Texts analysed in the background, all the same way; results are analyses."""

    id: str
    tenant: str
    analysis_type: AnalysisType
    status: BatchStatus
    total_count: int
    create_time: datetime
    update_time: datetime
    completed_count: int = 0
    failed_count: int = 0
    complete_time: datetime | None = None
    request_id: str | None = None
    payload_hash: str | None = None
    # The language the request stated for every text (BCP-47), if it stated one.
    language_code: str | None = None


def batch_status_after(batch: Batch) -> BatchStatus:
    """The status counters imply: finished when every item has a result, FAILED if none passed."""
    if batch.status.finished:
        return batch.status
    if batch.completed_count + batch.failed_count >= batch.total_count:
        return BatchStatus.COMPLETED if batch.completed_count else BatchStatus.FAILED
    return batch.status


_RANDOM_BYTES = 10
_random_pool = bytearray()


def _random_bits() -> int:
    """80 bits from the OS's random source, read 4 KB at a time (one system call per
    ~400 ids instead of one per id)."""
    global _random_pool  # noqa: PLW0603 - a per-process buffer
    if len(_random_pool) < _RANDOM_BYTES:
        _random_pool = bytearray(os.urandom(4096))
    chunk = _random_pool[-_RANDOM_BYTES:]
    del _random_pool[-_RANDOM_BYTES:]
    return int.from_bytes(chunk, "big")


def new_id() -> str:
    """A UUIDv7 (RFC 9562) string: unique, and roughly ordered by creation time."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= _random_bits()
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def payload_hash(analysis_type: AnalysisType, *texts: str, language_code: str = "") -> str:
    """Identifies a request's payload for idempotency checks (type, trimmed texts and the
    stated language). Without a stated language the hash is what it was before requests
    could state one, so retries of those still match."""
    digest = hashlib.sha256(f"{int(analysis_type)}:{len(texts)}".encode())
    for text in texts:
        encoded = text.encode("utf-8", "surrogatepass")
        digest.update(b"\0%d:" % len(encoded))
        digest.update(encoded)
    if language_code:
        digest.update(b"\0language:" + language_code.encode())
    return digest.hexdigest()
