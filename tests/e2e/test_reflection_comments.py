"""Reflection serves the contract with its comments, the API reference, to real tools."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import grpc.aio
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2
from helpers.tools import BIN, buf_curl, grpcurl

from server.app import Application

DESCRIPTOR_SET = Path(__file__).resolve().parents[2] / "client/textlens/v1/textlens.binpb"
# FileDescriptorProto field numbers used in source-info paths.
_SERVICE, _METHOD = 6, 2


def _comment_lines(service: str, method: str | None = None) -> list[str]:
    """A service's or method's comment as grpcurl prints it, from the descriptor set."""
    files = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes()).file
    for file in files:
        for s, service_proto in enumerate(file.service):
            if f"{file.package}.{service_proto.name}" != service:
                continue
            path = [_SERVICE, s]
            if method is not None:
                names = [m.name for m in service_proto.method]
                path += [_METHOD, names.index(method)]
            for location in file.source_code_info.location:
                if list(location.path) == path:
                    comment = location.leading_comments.splitlines()
                    return [f"//{line}".rstrip() for line in comment]
    raise AssertionError(f"{service} {method} not in the descriptor set")


async def test_grpcurl_describe_shows_the_service_comments(app_server: Application) -> None:
    result = await asyncio.to_thread(
        grpcurl, "describe", "textlens.v1.AnalysisService", target=f"127.0.0.1:{app_server.port}"
    )
    assert result.returncode == 0, result.stderr
    printed = [line.strip() for line in result.stdout.splitlines()]
    service_comment = _comment_lines("textlens.v1.AnalysisService")
    method_comment = _comment_lines("textlens.v1.AnalysisService", "CreateAnalysis")
    assert service_comment
    assert method_comment
    assert printed[1 : 1 + len(service_comment)] == service_comment
    at = printed.index(method_comment[0])
    assert printed[at : at + len(method_comment)] == method_comment
    assert printed[at + len(method_comment)].startswith("rpc CreateAnalysis (")


async def test_grpcurl_describes_a_single_method(app_server: Application) -> None:
    result = await asyncio.to_thread(
        grpcurl,
        "describe",
        "textlens.v1.BatchService.WatchBatch",
        target=f"127.0.0.1:{app_server.port}",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    comment = _comment_lines("textlens.v1.BatchService", "WatchBatch")
    assert lines[0] == "textlens.v1.BatchService.WatchBatch is a method:"
    assert [line.strip() for line in lines[1:-1]] == comment
    assert lines[-1].startswith("rpc WatchBatch ( .textlens.v1.WatchBatchRequest )")
    assert lines[-1].endswith("returns ( stream .textlens.v1.Batch );")


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("textlens.v1.ErrorReason", "ERROR_REASON_TEXT_EMPTY = 2;"),
        ("textlens.v1.Analysis", "int32 batch_item"),
        ("google.rpc.BadRequest", "repeated .google.rpc.BadRequest.FieldViolation"),
    ],
)
async def test_grpcurl_describes_messages_enums_and_the_error_details(
    app_server: Application, symbol: str, expected: str
) -> None:
    result = await asyncio.to_thread(
        grpcurl, "describe", symbol, target=f"127.0.0.1:{app_server.port}"
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "//" in result.stdout


async def test_v1_reflection_serves_files_with_their_comments(channel: grpc.aio.Channel) -> None:
    # v1 and v1alpha share their messages field for field, so v1alpha's classes encode v1.
    call = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="textlens.v1.AnalysisService.CreateAnalysis"
    )
    responses = [response async for response in call(iter([request]))]
    files = {
        proto.name: proto
        for proto in map(
            descriptor_pb2.FileDescriptorProto.FromString,
            responses[0].file_descriptor_response.file_descriptor_proto,
        )
    }
    assert {"textlens/v1/analysis_service.proto", "google/rpc/status.proto"} <= set(files)
    comments = [
        location.leading_comments
        for location in files["textlens/v1/analysis_service.proto"].source_code_info.location
    ]
    assert any("Analyses one text now" in comment for comment in comments)


async def test_buf_curl_calls_with_the_committed_descriptor_set_and_no_reflection(
    app_server: Application,
) -> None:
    result = await asyncio.to_thread(
        buf_curl,
        f"http://127.0.0.1:{app_server.port}/textlens.v1.AnalysisService/CreateAnalysis",
        "--reflect=false",
        "--schema",
        str(DESCRIPTOR_SET),
        data={"text": "A schema file is enough.", "analysisType": "ANALYSIS_TYPE_SENTIMENT"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ANALYSIS_STATUS_COMPLETED"


def test_grpcurl_describes_offline_from_the_committed_descriptor_set() -> None:
    command = [str(BIN / "grpcurl"), "-protoset", str(DESCRIPTOR_SET), "describe"]
    result = subprocess.run(
        [*command, "textlens.v1.AnalysisService"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = [line.strip() for line in result.stdout.splitlines()]
    comment = _comment_lines("textlens.v1.AnalysisService", "GetAnalysis")
    assert printed[printed.index(comment[0]) + len(comment)].startswith("rpc GetAnalysis (")
