"""Per-call state, carried in a contextvar from the outermost interceptor to the handler."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

import grpc


@dataclass(slots=True)
class CallState:
    """What the interceptors learn about one call; the canonical log line reports it."""

    method: str
    request_id: str
    tenant: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    code: grpc.StatusCode = grpc.StatusCode.OK
    messages_received: int = 0
    messages_sent: int = 0
    trace_id: str | None = None
    span_id: str | None = None
    trace_sampled: bool = False
    reason: str | None = None  # the ErrorReason of a failed call
    # Stream calls: items received, stored, and rejected (by reason).
    items_received: int = 0
    items_stored: int = 0
    items_rejected: dict[str, int] = field(default_factory=dict)


class PeerGone(Exception):
    """The client cancelled or disconnected while a response was being sent."""


current_call: contextvars.ContextVar[CallState] = contextvars.ContextVar("textlens_call")
