"""The published gRPC service config: valid for gRPC, naming real methods, retrying only
the calls that are safe to repeat.

The retry tests run gRPC's own retry machinery against a stand-in server that answers
UNAVAILABLE on demand, because what is under test is the config, not TextLens.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2

from textlens.v1 import analysis_pb2, analysis_service_pb2, batch_service_pb2

CONFIG_FILE = Path(__file__).resolve().parents[2] / "deploy" / "grpc" / "service_config.json"
CONFIG: dict[str, Any] = json.loads(CONFIG_FILE.read_text())
SAFE_TO_REPEAT = {
    "textlens.v1.AnalysisService/GetAnalysis",
    "textlens.v1.AnalysisService/ListAnalyses",
    "textlens.v1.AnalysisService/DeleteAnalysis",
    "textlens.v1.BatchService/GetBatch",
    "textlens.v1.BatchService/ListBatches",
    "textlens.v1.BatchService/WatchBatch",
    "grpc.health.v1.Health/Check",
}


def _retried() -> set[str]:
    return {
        f"{name['service']}/{name['method']}"
        for config in CONFIG["methodConfig"]
        if "retryPolicy" in config
        for name in config["name"]
    }


def test_every_method_it_names_exists() -> None:
    services = {
        s.full_name: s
        for s in (
            analysis_service_pb2.DESCRIPTOR.services_by_name["AnalysisService"],
            batch_service_pb2.DESCRIPTOR.services_by_name["BatchService"],
            health_pb2.DESCRIPTOR.services_by_name["Health"],
        )
    }
    for config in CONFIG["methodConfig"]:
        for name in config["name"]:
            assert name["method"] in services[name["service"]].methods_by_name, name


def test_only_calls_safe_to_repeat_are_retried_and_only_on_unavailable() -> None:
    # Creates are safe to repeat only with a request_id, which a generic client does not
    # send; CancelBatch would report FAILED_PRECONDITION; stream items have no key.
    assert _retried() == SAFE_TO_REPEAT
    for config in CONFIG["methodConfig"]:
        assert config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]


def test_balances_round_robin() -> None:
    assert CONFIG["loadBalancingConfig"] == [{"round_robin": {}}]


class _Flaky:
    """Answers UNAVAILABLE ``failures`` times per method, then an empty Analysis."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: dict[str, int] = {}

    def handler(self, method: str) -> grpc.RpcMethodHandler:
        async def answer(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            self.attempts[method] = self.attempts.get(method, 0) + 1
            if self.attempts[method] <= self.failures:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "try again")
            return analysis_pb2.Analysis(id="a1").SerializeToString()

        return grpc.unary_unary_rpc_method_handler(answer)


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[_Flaky, str]]:
    service = _Flaky(failures=2)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "textlens.v1.AnalysisService",
                {m: service.handler(m) for m in ("GetAnalysis", "CreateAnalysis")},
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield service, f"dns:///127.0.0.1:{port}"
    await server.stop(0)


async def _call(target: str, method: str) -> bytes:
    options = [("grpc.service_config", CONFIG_FILE.read_text())]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        call = channel.unary_unary(f"/textlens.v1.AnalysisService/{method}")
        reply: bytes = await call(b"", timeout=10)
        return reply


async def test_a_read_that_meets_unavailable_is_retried_by_grpc_itself(
    flaky: tuple[_Flaky, str],
) -> None:
    service, target = flaky
    reply = await _call(target, "GetAnalysis")
    assert analysis_pb2.Analysis.FromString(reply).id == "a1"
    assert service.attempts == {"GetAnalysis": 3}


async def test_a_create_is_not_retried(flaky: tuple[_Flaky, str]) -> None:
    service, target = flaky
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _call(target, "CreateAnalysis")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert service.attempts == {"CreateAnalysis": 1}
