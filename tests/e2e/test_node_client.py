"""A Node caller (@grpc/grpc-js, @grpc/proto-loader) uses the contract end to end.

tests/node/client.js calls every RPC once, streams through AnalyzeStream, watches a batch
to its end, and decodes errors to ErrorInfo and BadRequest from grpc-status-details-bin,
with the protos from proto/ and third_party/googleapis and the published service config.
Its packages come from tests/node/package-lock.json, installed once per lockfile.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.auth import make_token

from server.app import Application

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: the Node client test is required)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        _missing("node and npm are not installed")
    installed = subprocess.run(
        [str(NODE_DIR / "install.sh")], capture_output=True, text=True, timeout=300, check=False
    )
    if installed.returncode != 0:
        _missing(f"npm ci failed: {installed.stderr[-2000:]}")
    return Path(installed.stdout.strip())


@pytest.fixture(scope="module")
async def report(node_modules: Path, app_server: Application) -> dict[str, Any]:
    env = {
        **os.environ,
        "NODE_PATH": str(node_modules),
        "TEXTLENS_ROOT": str(ROOT),
        "TEXTLENS_TARGET": f"127.0.0.1:{app_server.port}",
        "TEXTLENS_TOKEN": make_token("tenant-node"),
    }
    process = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "client.js"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(stdout)
    return result


def test_unary_calls_create_get_and_list_an_analysis(report: dict[str, Any]) -> None:
    created = report["created"]
    assert created["status"] == "ANALYSIS_STATUS_COMPLETED"
    assert created["result"] == "sentiment"
    assert created["label"] == "SENTIMENT_LABEL_POSITIVE"
    assert report["got"] == {k: created[k] for k in ("id", "status", "result", "batch_id")}
    assert created["id"] in report["listed_ids"]


def test_the_stream_answers_each_message_in_order_with_per_item_errors(
    report: dict[str, Any],
) -> None:
    first, second = report["stream"]
    assert [r["ref"] for r in first] == ["a", "b"]
    assert first[0]["outcome"] == "analysis"
    assert first[0]["analysis"]["result"] == "quality"
    assert first[1]["outcome"] == "error"
    error = first[1]["error"]
    assert error["code"] == 3  # INVALID_ARGUMENT
    assert error["details"]["google.rpc.ErrorInfo"]["reason"] == "TEXT_EMPTY"
    assert [(r["ref"], r["outcome"]) for r in second] == [("c", "analysis")]
    assert second[0]["analysis"]["result"] == "emotion"


def test_a_batch_is_watched_to_completion_and_its_results_listed(report: dict[str, Any]) -> None:
    assert report["batch_created"]["total"] == 3
    watched = report["watched"]
    assert watched[-1] == {"status": "BATCH_STATUS_COMPLETED", "completed": 3, "failed": 0}
    assert all(s["status"] != "BATCH_STATUS_COMPLETED" for s in watched[:-1])
    assert report["batch_got"] == "BATCH_STATUS_COMPLETED"
    assert report["batch_created"]["id"] in report["listed_batch_ids"]
    results = report["batch_results"]
    assert len(results) == 3
    assert {r["batch_id"] for r in results} == {report["batch_created"]["id"]}
    assert {r["status"] for r in results} == {"ANALYSIS_STATUS_COMPLETED"}


def test_errors_decode_to_error_info_and_bad_request_with_the_contracts_reason(
    report: dict[str, Any],
) -> None:
    invalid = report["invalid"]
    assert invalid["code"] == 3  # INVALID_ARGUMENT
    info = invalid["details"]["google.rpc.ErrorInfo"]
    assert info["domain"] == "textlens.v1"
    assert info["reason"] == "TEXT_EMPTY"
    assert invalid["reasonNumber"] == 2  # textlens.v1.ERROR_REASON_TEXT_EMPTY
    violations = invalid["details"]["google.rpc.BadRequest"]["field_violations"]
    assert [(v["field"], v["reason"]) for v in violations] == [("text", "TEXT_EMPTY")]


def test_cancelling_a_finished_batch_and_reading_a_deleted_analysis_fail_with_reasons(
    report: dict[str, Any],
) -> None:
    cancel = report["cancel_finished"]
    assert cancel["code"] == 9  # FAILED_PRECONDITION
    assert cancel["details"]["google.rpc.ErrorInfo"]["reason"] == "BATCH_FINISHED"
    assert cancel["reasonNumber"] == 40
    deleted = report["after_delete"]
    assert deleted["code"] == 5  # NOT_FOUND
    assert deleted["details"]["google.rpc.ErrorInfo"]["reason"] == "ANALYSIS_NOT_FOUND"
