"""Emotion analyses through a real server: the model's scores, neutral, categories and hash."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from helpers.auth import make_token
from helpers.process import ServerProcess
from helpers.tools import grpcurl

from server.app import Application
from server.domain.analyzers.emotion_model import MODEL_FILE
from textlens import AsyncClient
from textlens.v1 import analysis_pb2

MODEL_SHA256 = hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest()


async def test_a_sad_text_arrives_with_sadness_present_and_the_model_named(
    app_server: Application,
) -> None:
    async with AsyncClient(f"127.0.0.1:{app_server.port}", token=make_token()) as client:
        created = await client.create_analysis("I am sad.", analysis_type="emotion")
        fetched = await client.get_analysis(created.id)
    assert fetched == created
    emotion = created.emotion
    assert emotion.dominant == analysis_pb2.EMOTION_SADNESS
    assert emotion.sadness >= 0.5
    assert emotion.neutral < 0.5
    assert len(emotion.categories) == 27
    assert emotion.categories[0].name == "sadness"
    assert [c.score for c in emotion.categories] == sorted(
        (c.score for c in emotion.categories), reverse=True
    )
    assert emotion.analyzer.name == "textlens-goemotions-emotion"
    assert "GoEmotions" in emotion.analyzer.lexicon
    assert emotion.analyzer.model_sha256 == MODEL_SHA256


async def test_a_factual_text_arrives_as_neutral(app_server: Application) -> None:
    async with AsyncClient(f"127.0.0.1:{app_server.port}", token=make_token()) as client:
        texts = ["The color is blue.", "The battery lasts about six hours."]
        results = [r async for r in client.analyze_stream(texts, analysis_type="emotion")]
    for result in results:
        assert result.analysis is not None
        assert result.analysis.emotion.dominant == analysis_pb2.EMOTION_NEUTRAL
        assert result.analysis.emotion.neutral >= 0.5


async def test_grpcurl_shows_the_new_emotion_fields_as_json(app_server: Application) -> None:
    created = await asyncio.to_thread(
        grpcurl,
        "textlens.v1.AnalysisService/CreateAnalysis",
        target=f"127.0.0.1:{app_server.port}",
        data={"text": "Thank you so much!", "analysis_type": "ANALYSIS_TYPE_EMOTION"},
    )
    assert created.returncode == 0, created.stderr
    emotion: dict[str, Any] = json.loads(created.stdout)["emotion"]
    assert emotion["categories"][0]["name"] == "gratitude"
    assert emotion["analyzer"]["modelSha256"] == MODEL_SHA256
    assert emotion["dominant"] == "EMOTION_JOY"
    assert "neutral" in emotion


async def test_the_opt_in_nrc_analyzer_serves_and_warns_of_its_licence_at_start(
    tmp_path: Path,
) -> None:
    # A server process of its own: its start-up log is read from its output, without
    # reconfiguring logging in this process, which other tests' servers share.
    env = {
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'nrc.db'}",
        "TEXTLENS_ANALYZERS": json.dumps(
            {"emotion": "server.domain.analyzers.nrc_emotion:NrcEmotionAnalyzer"}
        ),
    }
    with ServerProcess(env, cwd=tmp_path) as server:
        async with AsyncClient(server.target, token=make_token()) as client:
            analysis = await client.create_analysis("I was afraid.", analysis_type="emotion")
        records = server.log_records()
    assert analysis.emotion.analyzer.name == "textlens-nrc-emotion"
    assert analysis.emotion.fear > 0
    warnings = [r for r in records if r.get("event") == "analyzer licence"]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "warning"
    assert "research and teaching only" in warnings[0]["notice"]
