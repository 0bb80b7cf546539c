"""With LOG_FORMAT=json every line the server writes, on stdout and stderr, is JSON."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.auth import authed_channel
from helpers.process import ServerProcess
from helpers.redis import free_port

from textlens.v1 import analysis_pb2, analysis_service_pb2, analysis_service_pb2_grpc

SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT


def _parsed(lines: list[str]) -> list[dict[str, Any]]:
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line[:300]}")
    return records


async def test_every_line_is_json_with_a_collector_down_and_call_lines_carry_trace_ids(
    tmp_path: Path,
) -> None:
    env = {
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "TEXTLENS_LOG_FORMAT": "json",
        # Nothing listens there: the exporter fails while the server runs.
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    with ServerProcess(env, cwd=tmp_path, args=("serve", "--migrate")) as process:
        async with authed_channel(process.target) as channel:
            stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
            for _ in range(3):
                await stub.CreateAnalysis(
                    analysis_service_pb2.CreateAnalysisRequest(
                        text="Logged as JSON.", analysis_type=SENTIMENT
                    )
                )
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.GetAnalysis(analysis_service_pb2.GetAnalysisRequest(id="an_absent"))
            request = analysis_service_pb2.AnalyzeStreamRequest(
                items=[analysis_service_pb2.AnalyzeStreamItem(ref="1", text="Hi.", analysis_type=1)]
            )
            _ = [r async for r in stub.AnalyzeStream(iter([request]))]
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        async with grpc.aio.insecure_channel(process.target) as anonymous:
            with pytest.raises(grpc.aio.AioRpcError):
                await analysis_service_pb2_grpc.AnalysisServiceStub(anonymous).ListAnalyses(
                    analysis_service_pb2.ListAnalysesRequest()
                )
        await asyncio.sleep(6)  # several export attempts fail meanwhile
        process.signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait) == 0
    stdout = _parsed(process.stdout_lines)
    stderr = _parsed(process.stderr_lines)
    assert stdout[0]["event"].startswith("TextLens listening on 127.0.0.1:")
    calls = [r for r in stderr if "request_id" in r]
    assert len([r for r in calls if r["event"] == "rpc"]) >= 6
    for record in calls:
        assert len(record["trace_id"]) == 32 and len(record["span_id"]) == 16, record
    exporter = [r for r in stderr if r.get("logger", "").startswith("opentelemetry.exporter")]
    assert len(exporter) == 1, "the exporter's complaints are logged once a minute"
    assert exporter[0]["level"] in ("warning", "error")
    assert "Logged as JSON." not in "\n".join(process.stderr_lines + process.stdout_lines)


_NATIVE_WRITER = """
import os, sys, time
from server.logs import configure_logging
import structlog
configure_logging("INFO", "json", route_native=True)
os.write(2, b"E1128 11:36:43.165484   26123 add_port.cc:83] Failed to add port to server\\n")
os.write(2, b"something else\\n")
structlog.get_logger("textlens").info("python line")
time.sleep(0.5)
"""


def test_lines_native_code_writes_to_stderr_become_json_log_lines() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _NATIVE_WRITER],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    records = _parsed(result.stderr.splitlines())
    native = next(r for r in records if r.get("source") == "add_port.cc:83")
    assert native["event"] == "Failed to add port to server"
    assert native["level"] == "error" and native["logger"] == "grpc"
    assert any(r["event"] == "something else" for r in records)
    assert any(r["event"] == "python line" for r in records)


def test_migrate_reports_its_revision_as_a_json_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "migrate"],
        env={
            **os.environ,
            "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
            "TEXTLENS_LOG_FORMAT": "json",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (line,) = _parsed(result.stdout.splitlines())
    assert line["event"] == f"database schema at revision {line['revision']}"
    _parsed(result.stderr.splitlines())
