"""The published gRPC service config on dns:/// targets: round_robin, and one retry layer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from fakeserver import FakeServer, start_fake_server, unavailable

from textlens import AsyncClient, Retry, Unavailable
from textlens._channel import published_service_config, service_config
from textlens.v1 import analysis_service_pb2, batch_service_pb2

RETRIED_BY_THE_CLIENT = {
    ("textlens.v1.AnalysisService", "GetAnalysis"),
    ("textlens.v1.AnalysisService", "ListAnalyses"),
    ("textlens.v1.AnalysisService", "DeleteAnalysis"),
    ("textlens.v1.BatchService", "GetBatch"),
    ("textlens.v1.BatchService", "ListBatches"),
    ("textlens.v1.BatchService", "WatchBatch"),
    ("grpc.health.v1.Health", "Check"),
    # Made idempotent by the request_id the client always fills in; callers in other
    # languages add these two only if they do the same.
    ("textlens.v1.AnalysisService", "CreateAnalysis"),
    ("textlens.v1.BatchService", "CreateBatch"),
}


@pytest.fixture
async def two_loopbacks() -> AsyncIterator[FakeServer]:
    server = await start_fake_server(ipv6_too=True)
    yield server
    await server.server.stop(None)


def test_the_published_policy_is_the_clients_own_for_the_methods_it_names() -> None:
    config = published_service_config()
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    [method] = config["methodConfig"]
    named = {(n["service"], n["method"]) for n in method["name"]}
    assert named == RETRIED_BY_THE_CLIENT - {
        ("textlens.v1.AnalysisService", "CreateAnalysis"),
        ("textlens.v1.BatchService", "CreateBatch"),
    }
    policy = method["retryPolicy"]
    defaults = Retry()
    assert policy["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert float(policy["initialBackoff"].removesuffix("s")) == defaults.initial
    assert float(policy["maxBackoff"].removesuffix("s")) == defaults.maximum
    assert policy["backoffMultiplier"] == defaults.multiplier
    # The methods exist in the contract under these names.
    services = {
        "textlens.v1.AnalysisService": analysis_service_pb2.DESCRIPTOR.services_by_name[
            "AnalysisService"
        ],
        "textlens.v1.BatchService": batch_service_pb2.DESCRIPTOR.services_by_name["BatchService"],
    }
    for service, name in named:
        if service in services:
            assert name in services[service].methods_by_name


def test_the_client_hands_grpc_the_config_without_its_retry_policy() -> None:
    used = json.loads(service_config())
    assert used["loadBalancingConfig"] == [{"round_robin": {}}]
    assert "retryThrottling" not in used
    assert all("retryPolicy" not in method for method in used["methodConfig"])


async def test_a_dns_target_spreads_calls_over_every_address(two_loopbacks: FakeServer) -> None:
    port = two_loopbacks.target.rsplit(":", 1)[1]
    async with AsyncClient(f"localhost:{port}") as plain:
        for _ in range(6):
            await plain.list_analyses_page()
    one_address = {c.peer.split(":")[0] for c in two_loopbacks.script.calls}
    two_loopbacks.script.calls.clear()
    async with AsyncClient(f"dns:///localhost:{port}") as balanced:
        for _ in range(6):
            await balanced.list_analyses_page()
    both = {c.peer.split(":")[0] for c in two_loopbacks.script.calls}
    assert len(one_address) == 1, "without the config gRPC picks the first address"
    assert both == {"ipv4", "ipv6"}, "round_robin uses every address the name resolves to"


async def test_on_a_dns_target_attempts_are_the_clients_and_never_multiplied(
    fake: FakeServer,
) -> None:
    port = fake.target.rsplit(":", 1)[1]
    fake.script.fail("GetAnalysis", *(unavailable() for _ in range(10)))
    retry = Retry(initial=0.01, maximum=0.02, max_attempts=3)
    async with AsyncClient(f"dns:///127.0.0.1:{port}", retry=retry) as client:
        with pytest.raises(Unavailable) as caught:
            await client.get_analysis("a1")
    assert caught.value.attempts == 3
    assert len(fake.script.of("GetAnalysis")) == 3, "gRPC retried nothing on its own"
