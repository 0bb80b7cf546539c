"""TLS and mutual TLS on the gRPC port, with certificates the test makes (trustme)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.auth import make_token, server_settings

from server.app import Application
from textlens.v1 import analysis_service_pb2, analysis_service_pb2_grpc


class Pki:
    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.directory = directory
        server = self.ca.issue_cert("localhost", "127.0.0.1")
        self.server_cert = directory / "server.pem"
        self.server_key = directory / "server.key"
        server.cert_chain_pems[0].write_to_path(str(self.server_cert))
        server.private_key_pem.write_to_path(str(self.server_key))
        self.ca_file = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        client = self.ca.issue_cert("client.example")
        self.client_cert = client.cert_chain_pems[0].bytes()
        self.client_key = client.private_key_pem.bytes()
        (directory / "client.pem").write_bytes(self.client_cert)
        (directory / "client.key").write_bytes(self.client_key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


async def _serve(pki: Pki, tmp: Path, *, mutual: bool) -> Application:
    app = Application(
        server_settings(
            database_url=f"sqlite+aiosqlite:///{tmp / 'db.sqlite'}",
            tls_cert_file=pki.server_cert,
            tls_key_file=pki.server_key,
            tls_client_ca_file=pki.ca_file if mutual else None,
            health_port=0,
            batch_workers=0,
        )
    )
    await app.start()
    return app


@pytest.fixture
async def tls_app(pki: Pki, tmp_path: Path) -> AsyncIterator[Application]:
    app = await _serve(pki, tmp_path, mutual=False)
    yield app
    await app.stop(0)


@pytest.fixture
async def mtls_app(pki: Pki, tmp_path: Path) -> AsyncIterator[Application]:
    app = await _serve(pki, tmp_path, mutual=True)
    yield app
    await app.stop(0)


def _secure(app: Application, pki: Pki, *, client_cert: bool) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca_file.read_bytes(),
        private_key=pki.client_key if client_cert else None,
        certificate_chain=pki.client_cert if client_cert else None,
    )
    return grpc.aio.secure_channel(f"localhost:{app.port}", credentials)


async def _create(channel: grpc.aio.Channel) -> None:
    await analysis_service_pb2_grpc.AnalysisServiceStub(channel).CreateAnalysis(
        analysis_service_pb2.CreateAnalysisRequest(text="Secure words.", analysis_type=1),
        metadata=(("authorization", f"Bearer {make_token()}"),),
        timeout=10,
    )


async def test_a_client_trusting_the_ca_calls_over_tls(tls_app: Application, pki: Pki) -> None:
    async with _secure(tls_app, pki, client_cert=False) as channel:
        await _create(channel)


async def test_a_plaintext_client_is_refused_by_a_tls_server(tls_app: Application) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{tls_app.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _create(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_admits_a_client_certificate_and_refuses_its_absence(
    mtls_app: Application, pki: Pki
) -> None:
    async with _secure(mtls_app, pki, client_cert=True) as channel:
        await _create(channel)
    async with _secure(mtls_app, pki, client_cert=False) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _create(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_the_plaintext_health_port_answers_probes_that_cannot_speak_tls(
    mtls_app: Application,
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mtls_app.health_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        response = await health.Check(
            health_pb2.HealthCheckRequest(service="textlens.v1.AnalysisService")
        )
        assert response.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _create(channel)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED, "only health on that port"


async def test_the_cli_checks_health_over_mutual_tls(mtls_app: Application, pki: Pki) -> None:
    d = pki.directory
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "textlens",
            "--target",
            f"localhost:{mtls_app.port}",
            "--tls-ca",
            str(d / "ca.pem"),
            "--tls-cert",
            str(d / "client.pem"),
            "--tls-key",
            str(d / "client.key"),
            "health",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("TEXTLENS_")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SERVING"
