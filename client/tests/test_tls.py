"""TLS and mutual TLS, with the token sent as call credentials (certificates made by openssl)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from fakeserver import FakeAnalyses, Script

import textlens
from textlens import TLS, AsyncClient
from textlens.v1 import analysis_service_pb2_grpc

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


OPENSSL = shutil.which("openssl") or "openssl"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)  # noqa: S603


def _issue(name: str, cn: str, extension: str, cwd: Path) -> None:
    _openssl(
        "req", *EC, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=cwd
    )
    (cwd / f"{name}.ext").write_text(extension + "\n")
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "1", "-out", f"{name}.pem", "-extfile", f"{name}.ext",
        cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("pki")
    _openssl(
        "req", "-x509", *EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
        "-subj", "/CN=TextLens test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign",
        cwd=cwd,
    )  # fmt: skip
    _issue("server", "localhost", "subjectAltName=DNS:localhost", cwd)
    _issue("client", "test-client", "extendedKeyUsage=clientAuth", cwd)
    return cwd


@pytest.fixture
async def tls_server(pki: Path) -> AsyncIterator[tuple[str, Script]]:
    script = Script()
    server = grpc.aio.server()
    analysis_service_pb2_grpc.add_AnalysisServiceServicer_to_server(FakeAnalyses(script), server)
    credentials = grpc.ssl_server_credentials(
        [((pki / "server.key").read_bytes(), (pki / "server.pem").read_bytes())],
        root_certificates=(pki / "ca.pem").read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    yield f"127.0.0.1:{port}", script
    await server.stop(None)


async def test_mutual_tls_with_a_token_as_call_credentials(
    pki: Path, tls_server: tuple[str, Script]
) -> None:
    target, script = tls_server
    tls = TLS(
        ca=pki / "ca.pem",
        cert=str(pki / "client.pem"),
        key=(pki / "client.key").read_bytes(),
        server_name="localhost",
    )
    async with AsyncClient(target, tls=tls, token=lambda: "fresh-token") as client:
        analysis = await client.create_analysis("secure", analysis_type="sentiment")
    assert analysis.text == "secure"
    assert script.calls[-1].metadata["authorization"] == "Bearer fresh-token"


async def test_without_a_client_certificate_the_handshake_fails(
    pki: Path, tls_server: tuple[str, Script]
) -> None:
    target, _ = tls_server
    tls = TLS(ca=pki / "ca.pem", server_name="localhost")
    async with AsyncClient(target, tls=tls, retry=None) as client:
        with pytest.raises(textlens.Unavailable):
            await client.get_analysis("a", timeout=5)


def test_a_certificate_without_its_key_is_refused(pki: Path) -> None:
    with pytest.raises(ValueError, match="both cert and key"):
        TLS(cert=pki / "client.pem")
