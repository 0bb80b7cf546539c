"""The real grpcurl binary can discover and call the server through reflection."""

from __future__ import annotations

import asyncio
import json

from helpers.tools import grpcurl

from server.app import Application


async def test_grpcurl_lists_the_services(app_server: Application) -> None:
    result = await asyncio.to_thread(grpcurl, "list", target=f"127.0.0.1:{app_server.port}")
    assert result.returncode == 0, result.stderr
    services = set(result.stdout.split())
    assert {"textlens.v1.AnalysisService", "textlens.v1.BatchService"} <= services
    assert "grpc.health.v1.Health" in services


async def test_grpcurl_describes_the_analysis_service_with_its_methods(
    app_server: Application,
) -> None:
    result = await asyncio.to_thread(
        grpcurl, "describe", "textlens.v1.AnalysisService", target=f"127.0.0.1:{app_server.port}"
    )
    assert result.returncode == 0, result.stderr
    for method in ("CreateAnalysis", "GetAnalysis", "ListAnalyses", "DeleteAnalysis"):
        assert f"rpc {method}" in result.stdout
    assert "rpc AnalyzeStream ( stream .textlens.v1.AnalyzeStreamRequest )" in result.stdout


async def test_grpcurl_health_check_reports_serving(app_server: Application) -> None:
    result = await asyncio.to_thread(
        grpcurl,
        "grpc.health.v1.Health/Check",
        target=f"127.0.0.1:{app_server.port}",
        data={"service": "textlens.v1.BatchService"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "SERVING"}
