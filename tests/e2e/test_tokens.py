"""`textlens-server token`, and the ready-to-use token a keyless `serve` prints."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jwt
from helpers.auth import TEST_SECRET
from helpers.process import ServerProcess
from helpers.tools import grpcurl


def token_command(*args: str, secret: str | None = TEST_SECRET) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTLENS_")}
    if secret is not None:
        env["TEXTLENS_JWT_SECRET"] = secret
    return subprocess.run(
        [sys.executable, "-m", "server", "token", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_prints_a_jwt_with_the_claims_asked_for() -> None:
    result = token_command(
        "--subject",
        "svc-1",
        "--scope",
        "analyses:read batches:read",
        "--tenant",
        "acme",
        "--ttl",
        "120",
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "svc-1"
    assert claims["tenant"] == "acme"
    assert claims["scope"] == "analyses:read batches:read"
    assert claims["exp"] - claims["iat"] == 120


def test_token_without_a_configured_key_explains_itself() -> None:
    result = token_command("--subject", "svc", secret=None)
    assert result.returncode == 2
    assert "TEXTLENS_JWT_SECRET" in result.stderr


def test_a_short_secret_is_refused() -> None:
    result = token_command("--subject", "svc", secret="too-short")
    assert result.returncode != 0
    assert "at least 32 bytes" in result.stderr


async def test_serve_without_a_key_prints_a_token_that_works_at_once(tmp_path: Path) -> None:
    process = ServerProcess(
        {"TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"}, cwd=tmp_path
    )
    del process.env["TEXTLENS_JWT_SECRET"]  # the tests' shared secret: this run has none
    with process:
        for _ in range(50):
            banner = "\n".join(process.stdout_lines)
            match = re.search(r"export TEXTLENS_TOKEN=(\S+)", banner)
            if match:
                break
            await asyncio.sleep(0.1)
        assert match, banner
        token = match.group(1)
        result = await asyncio.to_thread(
            grpcurl,
            "textlens.v1.AnalysisService/CreateAnalysis",
            target=process.target,
            data={"text": "Works out of the box.", "analysis_type": "ANALYSIS_TYPE_SENTIMENT"},
            token=token,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["status"] == "ANALYSIS_STATUS_COMPLETED"
        refused = await asyncio.to_thread(
            grpcurl, "textlens.v1.AnalysisService/ListAnalyses", target=process.target, token=None
        )
        assert "Unauthenticated" in refused.stderr
