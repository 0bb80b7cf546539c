"""Settings from the environment (prefix TEXTLENS_), read once in main and passed down."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _cpu_count() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota (a
    container's limit), which os.cpu_count() ignores."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            count = min(count or 1, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count or 1)


class Settings(BaseSettings):
    """Every setting of the server; the README lists them with their defaults."""

    model_config = SettingsConfigDict(env_prefix="TEXTLENS_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=50051, ge=0, le=65535)
    database_url: str = "sqlite+aiosqlite:///textlens.db"
    redis_url: str | None = None

    jwt_secret: SecretStr | None = None
    jwt_public_key_file: Path | None = None
    jwt_algorithm: Literal["HS256", "RS256", "ES256"] | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    # Replace a built-in analyzer: {"sentiment": "package.module:Class"} (JSON in the env).
    analyzers: dict[str, str] = Field(default_factory=dict)

    # Texts per tenant in `limits` notation ("1000/minute"), or "off": a developer's own
    # server never refuses work for being busy; production sets a budget (README).
    rate_limit: str = "off"
    max_text_chars: int = Field(default=10_000, gt=0)
    max_batch_texts: int = Field(default=10_000, gt=0)

    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    otlp_endpoint: str | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # A plaintext port serving only grpc.health.v1, for probes that cannot speak TLS.
    health_port: int | None = Field(default=None, ge=0, le=65535)

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # RFC 7518: an HS256 key shorter than the hash (32 bytes) weakens the signature.
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes (e.g. `openssl rand -base64 32`)")
        return value

    workers: int = Field(default_factory=_cpu_count, ge=1)
    # Background batch work, per server process.
    batch_workers: int = Field(default=1, ge=0)
    batch_chunk_size: int = Field(default=256, ge=1, le=1000)
    batch_lease_seconds: float = Field(default=30.0, gt=0)
    batch_poll_seconds: float = Field(default=1.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
