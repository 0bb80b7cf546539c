"""Keys and tokens from the command line: `token`, `serve --dev`, secrets from files, and a
server that will not start with a missing, placeholder or guessable key."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from helpers.auth import TEST_SECRET, make_token
from helpers.process import ServerProcess
from helpers.tools import grpcurl

COMPOSE_PLACEHOLDER = "local-development-only-change-me"
KUBERNETES_PLACEHOLDER = "REPLACE_ME-with-at-least-32-random-bytes"
CREATE = "textlens.v1.AnalysisService/CreateAnalysis"
A_TEXT = {"text": "Works out of the box.", "analysis_type": "ANALYSIS_TYPE_SENTIMENT"}


def command(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``textlens-server ARGS`` with no TEXTLENS_* setting but ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TEXTLENS_")}
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env={**clean, "TEXTLENS_PORT": "0", **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_token_prints_a_jwt_with_the_claims_asked_for(tmp_path: Path) -> None:
    result = command(
        "token",
        "--subject",
        "svc-1",
        "--scope",
        "analyses:read batches:read",
        "--tenant",
        "acme",
        "--ttl",
        "120",
        cwd=tmp_path,
        env={"TEXTLENS_JWT_SECRET": TEST_SECRET},
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "svc-1"
    assert claims["tenant"] == "acme"
    assert claims["scope"] == "analyses:read batches:read"
    assert claims["exp"] - claims["iat"] == 120


def test_token_without_a_key_or_a_dev_secret_explains_itself(tmp_path: Path) -> None:
    result = command("token", "--subject", "svc", cwd=tmp_path)
    assert result.returncode == 2
    assert "TEXTLENS_JWT_SECRET" in result.stderr and "--dev" in result.stderr


def test_token_refuses_a_lifetime_the_server_would_refuse(tmp_path: Path) -> None:
    env = {"TEXTLENS_JWT_SECRET": TEST_SECRET, "TEXTLENS_JWT_MAX_LIFETIME_SECONDS": "600"}
    result = command("token", "--subject", "svc", "--ttl", "601", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "TEXTLENS_JWT_MAX_LIFETIME_SECONDS" in result.stderr


def test_token_refuses_a_tenant_the_server_would_refuse(tmp_path: Path) -> None:
    env = {"TEXTLENS_JWT_SECRET": TEST_SECRET}
    result = command("token", "--subject", "auth0|123", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "--subject" in result.stderr and "A-Z a-z 0-9" in result.stderr
    named = command("token", "--subject", "auth0|123", "--tenant", "acme", cwd=tmp_path, env=env)
    assert named.returncode == 0, named.stderr


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("too-short", "at least 32 bytes"),
        (COMPOSE_PLACEHOLDER, "placeholder"),
        (KUBERNETES_PLACEHOLDER, "placeholder"),
        ("changeme" * 4, "placeholder"),
        ("abcdefghijklmnopqrstuvwxyz0123456789", "predictable"),
        ("Ab1!" * 10, "predictable"),
    ],
)
def test_serve_refuses_a_placeholder_or_guessable_secret_in_one_line(
    tmp_path: Path, secret: str, why: str
) -> None:
    result = command("serve", cwd=tmp_path, env={"TEXTLENS_JWT_SECRET": secret}, timeout=30)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("textlens-server: TEXTLENS_JWT_SECRET: ") and why in line
    assert secret not in line, "the refused value is never echoed"


def test_serve_without_a_key_exits_at_once_saying_what_to_set(tmp_path: Path) -> None:
    result = command("serve", cwd=tmp_path, timeout=30)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "TEXTLENS_JWT_SECRET" in line and "serve --dev" in line
    assert "TOKEN" not in result.stdout


def test_public_key_tokens_need_a_page_token_secret(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    (tmp_path / "public.pem").write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    env = {"TEXTLENS_JWT_PUBLIC_KEY_FILE": str(tmp_path / "public.pem")}
    result = command("serve", cwd=tmp_path, env=env, timeout=30)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "TEXTLENS_PAGE_TOKEN_SECRET" in line


async def _banner_token(process: ServerProcess) -> str:
    # The banner follows the "listening" line that ServerProcess waits for.
    for _ in range(100):
        # Plain text on a terminal, JSON lines (the words as their event) in these tests.
        banner = "\n".join(json.loads(line)["event"] for line in process.stdout_lines)
        match = re.search(r"export TEXTLENS_TOKEN=(\S+)", banner)
        if match:
            return match.group(1)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no token in the banner: {banner}")


def _dev_server(tmp_path: Path) -> ServerProcess:
    process = ServerProcess(
        {"TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
        cwd=tmp_path,
        args=("serve", "--dev"),
    )
    del process.env["TEXTLENS_JWT_SECRET"]  # the tests' shared secret: this run has none
    return process


async def _create(target: str, token: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(grpcurl, CREATE, target=target, data=A_TEXT, token=token)


async def test_serve_dev_keeps_its_secret_in_a_private_file_so_tokens_survive_restarts(
    tmp_path: Path,
) -> None:
    with _dev_server(tmp_path) as first:
        token = await _banner_token(first)
        created = await _create(first.target, token)
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout)["status"] == "ANALYSIS_STATUS_COMPLETED"
    secret_file = tmp_path / ".textlens-dev-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert jwt.decode(token, secret, algorithms=["HS256"])["sub"] == "local"

    with _dev_server(tmp_path) as second:
        again = await _create(second.target, token)
        assert again.returncode == 0, again.stderr
        minted = command("token", "--subject", "dev-user", cwd=tmp_path)
        assert minted.returncode == 0, minted.stderr
        assert ".textlens-dev-secret" in minted.stderr
        with_minted = await _create(second.target, minted.stdout.strip())
        assert with_minted.returncode == 0, with_minted.stderr
        foreign = make_token("acme")  # signed with another key
        refused = await _create(second.target, foreign)
        assert "Unauthenticated" in refused.stderr
        assert "signed with another key" in refused.stderr


async def test_secrets_and_the_database_url_can_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "jwt-secret").write_text(TEST_SECRET + "\n")
    database = f"sqlite+aiosqlite:///{tmp_path / 'from-file.sqlite'}"
    (tmp_path / "database-url").write_text(database + "\n")
    process = ServerProcess(
        {
            "TEXTLENS_JWT_SECRET_FILE": str(tmp_path / "jwt-secret"),
            "TEXTLENS_DATABASE_URL_FILE": str(tmp_path / "database-url"),
        },
        cwd=tmp_path,
    )
    del process.env["TEXTLENS_JWT_SECRET"]
    with process:
        created = await _create(process.target, make_token("acme"))
        assert created.returncode == 0, created.stderr
    assert (tmp_path / "from-file.sqlite").exists()


def test_a_secret_and_its_file_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "jwt-secret").write_text(TEST_SECRET)
    env = {
        "TEXTLENS_JWT_SECRET": TEST_SECRET,
        "TEXTLENS_JWT_SECRET_FILE": str(tmp_path / "jwt-secret"),
    }
    result = command("serve", cwd=tmp_path, env=env, timeout=30)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "not both" in line and TEST_SECRET not in line
