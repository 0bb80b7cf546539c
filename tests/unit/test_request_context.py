"""The request-context interceptor on its own: how a call's ending is reported."""

from __future__ import annotations

from typing import Any

from server.transport.context import CallState, PeerGone
from server.transport.interceptors.base import Method
from server.transport.interceptors.request_context import RequestContextInterceptor


class _Context:
    """The parts of a servicer context the request-context interceptor uses."""

    def __init__(self) -> None:
        self.aborted = False

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def set_trailing_metadata(self, _: Any) -> None:
        return None

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"

    def code(self) -> None:
        return None

    async def abort(self, *_: Any, **__: Any) -> None:
        self.aborted = True


class _Observer:
    def __init__(self) -> None:
        self.codes: list[str] = []

    def call_started(self, method: Method) -> None:
        return None

    def call_finished(self, method: Method, call: CallState, seconds: float) -> None:
        self.codes.append(call.code.name)


async def test_a_send_refused_because_the_peer_left_ends_as_cancelled() -> None:
    observer = _Observer()
    interceptor = RequestContextInterceptor(observers=[observer])
    method = Method(
        "/textlens.v1.AnalysisService/AnalyzeStream",
        "textlens.v1.AnalysisService",
        "AnalyzeStream",
        "bidi_stream",
    )
    context = _Context()
    async with interceptor.scope(method, context):
        raise PeerGone
    assert not context.aborted, "nobody is left to send a status to"
    assert observer.codes == ["CANCELLED"]
