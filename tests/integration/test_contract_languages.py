"""The contract compiles for other languages, into the packages its options name.

Runs Debian's protoc with its built-in generators and the gRPC plugins Debian packages
(protoc-gen-go, protoc-gen-go-grpc, grpc_java_plugin, grpc_{cpp,php,ruby}_plugin), which
`make proto-tools` installs. grpcio-tools' protoc has only the Python generators.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTOS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto/textlens/v1").glob("*.proto"))
GO_PACKAGE = "github.com/textlens/textlens/gen/go/textlens/v1"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (make proto-tools)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI=true needs it")
        pytest.skip(message)
    return path


def _protoc(out: Path, *flags: str) -> None:
    out.mkdir()
    result = subprocess.run(
        [_tool("protoc"), "-Iproto", "-Ithird_party/googleapis", *flags, *PROTOS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # protoc warns, without failing, about unused imports and the like.
    assert result.stderr == ""


def _grpc_plugin(name: str) -> str:
    return f"--plugin=protoc-gen-grpc={_tool(name)}"


def test_go_code_lands_in_the_go_package_and_imports_genproto_status(tmp_path: Path) -> None:
    _tool("protoc-gen-go")
    _tool("protoc-gen-go-grpc")
    out = tmp_path / "go"
    _protoc(out, f"--go_out={out}", f"--go-grpc_out={out}")
    package = out / GO_PACKAGE
    assert {p.name for p in package.iterdir()} >= {
        "analysis.pb.go",
        "analysis_service.pb.go",
        "analysis_service_grpc.pb.go",
        "batch_service_grpc.pb.go",
        "errors.pb.go",
    }
    service = (package / "analysis_service.pb.go").read_text()
    assert "package textlensv1\n" in service
    assert 'status "google.golang.org/genproto/googleapis/rpc/status"' in service
    assert "ErrorReason_value = map[string]int32{" in (package / "errors.pb.go").read_text()


def test_java_and_kotlin_code_lands_in_the_java_package(tmp_path: Path) -> None:
    out = tmp_path / "java"
    grpc_java = f"--plugin=protoc-gen-grpc-java={_tool('grpc_java_plugin')}"
    _protoc(out, f"--java_out={out}", f"--kotlin_out={out}", grpc_java, f"--grpc-java_out={out}")
    package = out / "io/textlens/v1"
    names = {p.name for p in package.iterdir()}
    assert {"AnalysisServiceGrpc.java", "ErrorReason.java", "AnalysisKt.kt"} <= names
    # java_multiple_files: one file per message, outer classes named by the options.
    assert {"Analysis.java", "AnalysisProto.java", "ErrorsProto.java"} <= names
    grpc = (package / "AnalysisServiceGrpc.java").read_text()
    assert grpc.startswith("package io.textlens.v1;")


def test_csharp_code_is_in_the_csharp_namespace(tmp_path: Path) -> None:
    out = tmp_path / "csharp"
    _protoc(out, f"--csharp_out={out}")
    assert "namespace TextLens.V1 {" in (out / "AnalysisService.cs").read_text()


def test_php_code_is_in_the_php_namespace(tmp_path: Path) -> None:
    out = tmp_path / "php"
    _protoc(out, f"--php_out={out}", _grpc_plugin("grpc_php_plugin"), f"--grpc_out={out}")
    client = (out / "TextLens/V1/AnalysisServiceClient.php").read_text()
    assert "namespace TextLens\\V1;" in client
    assert "namespace TextLens\\V1;" in (out / "TextLens/V1/ErrorReason.php").read_text()


def test_ruby_code_is_in_the_ruby_module(tmp_path: Path) -> None:
    out = tmp_path / "ruby"
    _protoc(out, f"--ruby_out={out}", _grpc_plugin("grpc_ruby_plugin"), f"--grpc_out={out}")
    services = (out / "textlens/v1/analysis_service_services_pb.rb").read_text()
    assert "module TextLens\n  module V1\n    module AnalysisService" in services


def test_objective_c_classes_carry_the_class_prefix(tmp_path: Path) -> None:
    out = tmp_path / "objc"
    _protoc(out, f"--objc_out={out}")
    header = (out / "textlens/v1/Analysis.pbobjc.h").read_text()
    assert "@interface TXLAnalysis : GPBMessage" in header


def test_cpp_code_is_in_the_package_namespace_and_includes_googleapis(tmp_path: Path) -> None:
    out = tmp_path / "cpp"
    _protoc(out, f"--cpp_out={out}", _grpc_plugin("grpc_cpp_plugin"), f"--grpc_out={out}")
    header = (out / "textlens/v1/analysis_service.grpc.pb.h").read_text()
    assert "namespace textlens {\nnamespace v1 {" in header
    assert (
        '#include "google/rpc/status.pb.h"'
        in (out / "textlens/v1/analysis_service.pb.h").read_text()
    )
