"""The command line prints exactly what grpcurl prints for the same message: diffable output.

grpcurl reads the contract from a protoset that buf builds from ``proto/`` here, so it
knows every field's JSON name whatever the server's reflection serves.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc.aio
import pytest
from helpers.auth import make_token
from helpers.tools import BIN

from server.app import Application
from textlens.v1 import analysis_pb2, analysis_service_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
TEXTS = {
    "sentiment": 'Fish & chips <3 — the "best" in town, honestly\u2028 I loved it!',
    "quality": "WOW!!! The a of. Fine big numbers 12345678 wonderful, truly wonderful.",
    "emotion": "We were so afraid at first, then angry, and finally joyful.",
}


@pytest.fixture(scope="module")
def protoset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("protoset") / "textlens.binpb"
    subprocess.run(
        [str(BIN / "buf"), "build", "-o", str(path)], cwd=ROOT, check=True, capture_output=True
    )
    return path


def run(command: list[str], env: dict[str, str] | None = None, stdin: str = "") -> str:
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def textlens(target: str, *args: str, stdin: str = "") -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTLENS_")}
    env.update(TEXTLENS_TARGET=target, TEXTLENS_TOKEN=make_token())
    return run([sys.executable, "-m", "textlens", *args], env, stdin)


def grpcurl(protoset: Path, target: str, method: str, data: str) -> str:
    return run(
        [
            str(BIN / "grpcurl"), "-protoset", str(protoset), "-plaintext",
            "-H", f"authorization: Bearer {make_token()}", "-d", data, target, method,
        ]
    )  # fmt: skip


@pytest.mark.parametrize("kind", sorted(TEXTS))
async def test_analyze_and_get_print_what_grpcurl_prints(
    app_server: Application, protoset: Path, kind: str
) -> None:
    target = f"127.0.0.1:{app_server.port}"
    created = await asyncio.to_thread(textlens, target, "analyze", TEXTS[kind], "--type", kind)
    analysis_id = created.split('"id": "', 1)[1].split('"', 1)[0]
    fetched = await asyncio.to_thread(textlens, target, "get", analysis_id)
    reference = await asyncio.to_thread(
        grpcurl,
        protoset,
        target,
        "textlens.v1.AnalysisService/GetAnalysis",
        f'{{"id": "{analysis_id}"}}',
    )
    assert created == reference
    assert fetched == reference


async def test_a_batch_prints_what_grpcurl_prints(app_server: Application, protoset: Path) -> None:
    target = f"127.0.0.1:{app_server.port}"
    created = await asyncio.to_thread(
        textlens, target, "batch", "create", "-", "--watch", stdin="Good.\nBad.\n"
    )
    batch_id = created.split('"id":"', 1)[1].split('"', 1)[0]
    fetched = await asyncio.to_thread(textlens, target, "batch", "get", batch_id)
    reference = await asyncio.to_thread(
        grpcurl, protoset, target, "textlens.v1.BatchService/GetBatch", f'{{"id": "{batch_id}"}}'
    )
    assert fetched == reference


class _Crafted(analysis_service_pb2_grpc.AnalysisServiceServicer):
    """Answers GetAnalysis with messages no analyzer produces: the formatting edge cases."""

    def __init__(self) -> None:
        empty = analysis_pb2.Analysis(id="empty", batch_item=0, processing_time_ms=1234567.0)
        empty.emotion.SetInParent()
        odd = analysis_pb2.Analysis(
            id="odd", text="tab\there\x01 <&> \u2028 \u00e9", processing_time_ms=3.2e-05
        )
        odd.quality.score = 1e-07
        odd.quality.flesch_reading_ease = -123456789.5
        odd.quality.lexical_diversity = 100.0
        odd.quality.issues.add()
        self.messages = {"empty": empty, "odd": odd}

    async def GetAnalysis(self, request: Any, context: Any) -> analysis_pb2.Analysis:
        return self.messages[request.id]


@pytest.fixture
async def crafted() -> AsyncIterator[str]:
    server = grpc.aio.server()
    analysis_service_pb2_grpc.add_AnalysisServiceServicer_to_server(_Crafted(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


@pytest.mark.parametrize("analysis_id", ["empty", "odd"])
async def test_numbers_escapes_and_empty_messages_print_as_grpcurl_prints_them(
    crafted: str, protoset: Path, analysis_id: str
) -> None:
    mine = await asyncio.to_thread(textlens, crafted, "get", analysis_id)
    reference = await asyncio.to_thread(
        grpcurl,
        protoset,
        crafted,
        "textlens.v1.AnalysisService/GetAnalysis",
        f'{{"id": "{analysis_id}"}}',
    )
    assert mine == reference
