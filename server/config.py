"""Settings from the environment (prefix TEXTLENS_), read once in main and passed down."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.auth.keys import DEV_SECRET_FILE, read_secret_file, weakness


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
    """Every setting of the server; docs/configuration.md lists them with their defaults."""

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
    # server never refuses work for being busy; production sets a budget (docs/rate-limits.md).
    rate_limit: str = "off"
    max_text_chars: int = Field(default=10_000, gt=0)
    max_batch_texts: int = Field(default=10_000, gt=0)
    # Results kept per process for texts that repeat (per tenant, sealed); 0 turns the
    # result cache off, the Redis one included.
    result_cache_size: int = Field(default=1_024, ge=0)

    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # A shorthand for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (server.tracing).
    otlp_endpoint: str | None = None
    # Also trace batch work, background database polls, health and reflection calls.
    trace_background: bool = False
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # A plaintext port serving only grpc.health.v1, for probes that cannot speak TLS.
    health_port: int | None = Field(default=None, ge=0, le=65535)

    workers: int = Field(default_factory=_cpu_count, ge=1)
    # Background batch work, per server process.
    batch_workers: int = Field(default=1, ge=0)
    batch_chunk_size: int = Field(default=256, ge=1, le=1000)
    batch_lease_seconds: float = Field(default=30.0, gt=0)
    batch_poll_seconds: float = Field(default=1.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    # Capacity (docs/security.md, "Capacity"): what any client, or tenant, can make one
    # server process hold, whatever it sends.
    max_concurrent_rpcs: int = Field(default=1_000, ge=1)
    max_streams_per_connection: int = Field(default=100, ge=1)
    stream_window_bytes: int = Field(default=256 * 1024, ge=65_535, le=16 * 1024 * 1024)
    max_streams_per_tenant: int = Field(default=16, ge=1)
    stream_messages_per_tenant: int = Field(default=1, ge=1)
    stream_tenant_share: float = Field(default=0.25, gt=0, le=1)
    max_watches_per_tenant: int = Field(default=32, ge=1)
    max_health_watches: int = Field(default=100, ge=1)
    max_reflection_streams: int = Field(default=20, ge=1)
    stream_idle_seconds: float = Field(default=300.0, gt=0)
    connection_idle_seconds: float = Field(default=600.0, gt=0)

    # Secrets and token policy (docs/security.md). Each secret may instead come from a
    # file named by the same setting with _FILE appended (a mounted secret).
    jwt_secret_file: Path | None = None
    database_url_file: Path | None = None
    redis_url_file: Path | None = None
    # Authenticates page tokens and keys the result cache; required with RS256/ES256,
    # derived from TEXTLENS_JWT_SECRET when unset.
    page_token_secret: SecretStr | None = None
    page_token_secret_file: Path | None = None
    jwt_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    jwt_max_lifetime_seconds: int = Field(default=86_400, ge=60)
    jwt_require_issuer: bool = False
    jwt_require_audience: bool = False
    # Where `serve --dev` keeps its signing secret, so that tokens survive restarts.
    dev_secret_file: Path = DEV_SECRET_FILE

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name in _FROM_FILES:
            path = data.get(f"{name}_file")
            if path in (None, ""):
                continue
            if data.get(name) not in (None, ""):
                setting = f"TEXTLENS_{name.upper()}"
                raise ValueError(f"set {setting} or {setting}_FILE, not both")
            try:
                data[name] = read_secret_file(Path(path))
            except OSError as exc:
                raise ValueError(
                    f"TEXTLENS_{name.upper()}_FILE: cannot read {path} ({exc.strerror})"
                ) from None
        return data

    @field_validator("jwt_secret", "page_token_secret")
    @classmethod
    def _strong(cls, value: SecretStr | None) -> SecretStr | None:
        # RFC 7518: an HS256 key shorter than the hash (32 bytes) weakens the signature;
        # a placeholder or a guessable one lets anyone mint tokens for any tenant.
        if value is not None and (reason := weakness(value.get_secret_value())) is not None:
            raise ValueError(reason)
        return value


_FROM_FILES = ("jwt_secret", "database_url", "redis_url", "page_token_secret")


def describe(error: ValidationError) -> str:
    """One line naming each invalid setting and why, never quoting a value (it may be a
    secret)."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["loc"]:
            problems.append(f"TEXTLENS_{str(item['loc'][0]).upper()}: {message}")
        else:
            problems.append(message)
    return "; ".join(problems)
