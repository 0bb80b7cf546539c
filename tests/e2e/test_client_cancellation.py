"""A client that goes away mid-stream is the client's doing: the call is logged as
CANCELLED at INFO, with no traceback, however the connection ends."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path

from helpers.auth import make_token
from helpers.process import ServerProcess
from helpers.tools import BIN

STREAM = "textlens.v1.AnalysisService/AnalyzeStream"


def _requests(path: Path) -> None:
    item = {"text": "Fine words, said often. " * 20, "analysis_type": "ANALYSIS_TYPE_SENTIMENT"}
    with path.open("w") as out:
        for n in range(2_000):
            message = {"items": [{**item, "ref": f"{n}-{i}"} for i in range(50)]}
            out.write(json.dumps(message) + "\n")


def _interrupted_grpcurl(target: str, requests: Path, after: float) -> None:
    """grpcurl streaming as fast as it can read, killed with its connection mid-stream."""
    command = [
        str(BIN / "grpcurl"),
        "-plaintext",
        "-H",
        f"authorization: Bearer {make_token('leaver')}",
        "-d",
        "@",
        target,
        STREAM,
    ]
    with requests.open() as stdin:
        client = subprocess.Popen(
            command,
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            client.wait(after)
        except subprocess.TimeoutExpired:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait(10)


async def test_clients_killed_mid_stream_are_logged_as_cancelled_without_traceback(
    tmp_path: Path,
) -> None:
    requests = tmp_path / "requests.jsonl"
    _requests(requests)
    env = {"TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"}
    with ServerProcess(env, cwd=tmp_path) as server:
        for after in (0.8, 1.2, 1.6, 2.0, 2.4, 2.8):
            await asyncio.to_thread(_interrupted_grpcurl, server.target, requests, after)
        await asyncio.sleep(1)
    records = server.log_records()
    streams = [r for r in records if r.get("method", "").endswith("/AnalyzeStream")]
    calls = [r for r in streams if r.get("event") == "rpc"]
    assert len(calls) == 6
    assert {r["code"] for r in calls} <= {"CANCELLED", "OK"}
    assert all(r["level"] == "info" for r in calls)
    assert [r for r in records if r.get("level") in ("error", "critical")] == []
    assert not any("exception" in r for r in streams)
