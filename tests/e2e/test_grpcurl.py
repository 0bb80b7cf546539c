"""The real grpcurl binary can discover and call the server through reflection."""

from __future__ import annotations

import asyncio
import json

from helpers.tools import buf_curl, grpcurl

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


async def test_grpcurl_creates_and_reads_an_analysis_from_json(app_server: Application) -> None:
    target = f"127.0.0.1:{app_server.port}"
    created = await asyncio.to_thread(
        grpcurl,
        "textlens.v1.AnalysisService/CreateAnalysis",
        target=target,
        data={
            "text": "grpcurl makes this easy. I like it!",
            "analysis_type": "ANALYSIS_TYPE_SENTIMENT",
        },
    )
    assert created.returncode == 0, created.stderr
    analysis = json.loads(created.stdout)
    assert analysis["status"] == "ANALYSIS_STATUS_COMPLETED"
    assert analysis["sentiment"]["label"] == "SENTIMENT_LABEL_POSITIVE"

    fetched = await asyncio.to_thread(
        grpcurl,
        "textlens.v1.AnalysisService/GetAnalysis",
        target=target,
        data={"id": analysis["id"]},
    )
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout)["id"] == analysis["id"]


async def test_grpcurl_shows_rich_error_details(app_server: Application) -> None:
    result = await asyncio.to_thread(
        grpcurl,
        "textlens.v1.AnalysisService/CreateAnalysis",
        target=f"127.0.0.1:{app_server.port}",
        data={"text": "   ", "analysis_type": "ANALYSIS_TYPE_SENTIMENT"},
    )
    assert result.returncode != 0
    assert "Code: InvalidArgument" in result.stderr
    assert '"reason":"TEXT_EMPTY"' in result.stderr.replace(" ", "")


async def test_buf_curl_creates_and_lists_analyses(app_server: Application) -> None:
    base = f"http://127.0.0.1:{app_server.port}/textlens.v1.AnalysisService"
    created = await asyncio.to_thread(
        buf_curl,
        f"{base}/CreateAnalysis",
        data={
            "text": "Readable prose is kind to readers.",
            "analysisType": "ANALYSIS_TYPE_QUALITY",
        },
    )
    assert created.returncode == 0, created.stderr
    analysis = json.loads(created.stdout)
    assert analysis["quality"]["wordCount"] == 6

    listed = await asyncio.to_thread(buf_curl, f"{base}/ListAnalyses", data={"pageSize": 100})
    assert listed.returncode == 0, listed.stderr
    assert analysis["id"] in {a["id"] for a in json.loads(listed.stdout)["analyses"]}
