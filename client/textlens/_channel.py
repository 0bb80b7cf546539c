"""Connection options (TLS, keepalive, bearer token) and the grpc.aio channel built from them.

The bearer token goes out two ways. On a TLS channel it is gRPC call credentials
(``grpc.metadata_call_credentials``), composed into the channel credentials, so gRPC
itself guarantees it never crosses an unencrypted connection. gRPC refuses call
credentials on a plaintext channel, so there (and on an injected channel, whose
security the client cannot see) the client adds the same ``authorization`` metadata to
each call itself. Either way a callable token source is asked again for every attempt,
so a refreshed token is picked up by the next call and by retries.

A ``dns:///`` target (a name that resolves to several replicas, such as a Kubernetes
headless Service) gets the published gRPC service config, ``grpc-service-config.json``
(the same file as ``deploy/grpc/service_config.json``): ``round_robin`` over every
address. Its retry policy, written for clients in other languages, is taken out before
gRPC sees it: this client retries the same methods on the same codes itself (with the
server's RetryInfo delays and a fresh token per attempt), and two layers would multiply
the attempts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

TokenSource = str | Callable[[], str]
Pem = bytes | str | os.PathLike[str]

# Servers answer with up to 16 MiB (a page of long texts, a stream response); gRPC's
# default 4 MiB receive limit would fail such answers.
MAX_RECEIVE_BYTES = 64 * 1024 * 1024
# After a server restart the channel should reconnect within about a second, not the
# minutes gRPC's default reconnect backoff can grow to. (Not grpc.min_reconnect_backoff_ms:
# gRPC also takes it as the time a connection attempt may last, and 200 ms would fail
# every handshake slower than that, such as TLS across an ocean.)
_RECONNECT_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


@dataclass(frozen=True, slots=True)
class TLS:
    """TLS settings. PEM data as ``bytes``, or a path to a PEM file as ``str`` or Path.

    ``ca``: the CA bundle that signed the server's certificate (system roots if None).
    ``cert`` and ``key``: the client's certificate and key, for mutual TLS.
    ``server_name``: the name to verify in the server's certificate, when it differs
    from the target's host (for example when connecting through an IP address).
    """

    ca: Pem | None = None
    cert: Pem | None = None
    key: Pem | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("TLS needs both cert and key for mutual TLS, or neither")

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=_read_pem(self.ca),
            private_key=_read_pem(self.key),
            certificate_chain=_read_pem(self.cert),
        )


@dataclass(frozen=True, slots=True)
class Keepalive:
    """HTTP/2 keepalive pings, to notice dead connections behind NATs and load balancers.

    ``time``: seconds between pings; ``timeout``: seconds to wait for the answer before
    the connection is considered dead. The server must allow pings this frequent, or it
    closes the connection with "too_many_pings" (gRPC servers allow one every 5 minutes
    by default).
    """

    time: float = 300.0
    timeout: float = 20.0
    permit_without_calls: bool = False

    def options(self) -> list[tuple[str, Any]]:
        return [
            ("grpc.keepalive_time_ms", int(self.time * 1000)),
            ("grpc.keepalive_timeout_ms", int(self.timeout * 1000)),
            ("grpc.keepalive_permit_without_calls", int(self.permit_without_calls)),
        ]


def _read_pem(source: Pem | None) -> bytes | None:
    if source is None or isinstance(source, bytes):
        return source
    return Path(source).read_bytes()


def bearer(token: TokenSource) -> str:
    """The authorization metadata value for a token source, fetched now."""
    value = token() if callable(token) else token
    return value if value.startswith("Bearer ") else f"Bearer {value}"


class _TokenPlugin(grpc.AuthMetadataPlugin):
    def __init__(self, token: TokenSource) -> None:
        self._token = token

    def __call__(
        self,
        context: grpc.AuthMetadataContext,
        callback: grpc.AuthMetadataPluginCallback,
    ) -> None:
        try:
            value = bearer(self._token)
        except Exception as exc:  # noqa: BLE001 - gRPC wants the failure through callback
            callback((), exc)
            return
        callback((("authorization", value),), None)


SERVICE_CONFIG_FILE = "grpc-service-config.json"


def published_service_config() -> dict[str, Any]:
    """The service config published for every client, as shipped in this package."""
    text = resources.files("textlens").joinpath(SERVICE_CONFIG_FILE).read_text()
    config: dict[str, Any] = json.loads(text)
    return config


@cache
def service_config() -> str:
    """The published service config without its retry policy, as this client uses it."""
    config = published_service_config()
    for method in config.get("methodConfig", []):
        method.pop("retryPolicy", None)
    config.pop("retryThrottling", None)
    return json.dumps(config)


def create_channel(
    target: str,
    *,
    tls: TLS | bool,
    token: TokenSource | None,
    keepalive: Keepalive | None,
    options: Sequence[tuple[str, Any]],
) -> grpc.aio.Channel:
    """A grpc.aio channel on the running event loop (grpc.aio binds channels to one)."""
    merged: dict[str, Any] = {
        "grpc.max_receive_message_length": MAX_RECEIVE_BYTES,
        **dict(_RECONNECT_OPTIONS),
    }
    if keepalive is not None:
        merged.update(keepalive.options())
    if isinstance(tls, TLS) and tls.server_name:
        merged["grpc.ssl_target_name_override"] = tls.server_name
    if target.startswith("dns:"):
        merged["grpc.service_config"] = service_config()
    merged.update(dict(options))
    channel_options = list(merged.items())
    if tls is False:
        return grpc.aio.insecure_channel(target, options=channel_options)
    settings = tls if isinstance(tls, TLS) else TLS()
    credentials = settings.credentials()
    if token is not None:
        credentials = grpc.composite_channel_credentials(
            credentials, grpc.metadata_call_credentials(_TokenPlugin(token))
        )
    return grpc.aio.secure_channel(target, credentials, options=channel_options)
