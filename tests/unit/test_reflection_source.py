"""Reflection answers from the committed descriptor set: whole files, with their comments."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2

from server.transport.reflection import DescriptorSetSource
from textlens.v1 import analysis_pb2, analysis_service_pb2, batch_pb2, batch_service_pb2, errors_pb2


@pytest.fixture(scope="module")
def source() -> DescriptorSetSource:
    return DescriptorSetSource.from_contract(health_pb2.DESCRIPTOR)


def _copy(file: object) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)  # type: ignore[attr-defined]
    return proto


def _leading_comments(proto: descriptor_pb2.FileDescriptorProto) -> Iterator[str]:
    return (location.leading_comments for location in proto.source_code_info.location)


def _messages(
    messages: Iterable[descriptor_pb2.DescriptorProto],
) -> Iterator[descriptor_pb2.DescriptorProto]:
    for message in messages:
        yield message
        yield from _messages(message.nested_type)


@pytest.mark.parametrize(
    ("symbol", "file"),
    [
        ("textlens.v1.AnalysisService", "textlens/v1/analysis_service.proto"),
        ("textlens.v1.AnalysisService.CreateAnalysis", "textlens/v1/analysis_service.proto"),
        (".textlens.v1.BatchService.WatchBatch", "textlens/v1/batch_service.proto"),
        ("textlens.v1.Analysis", "textlens/v1/analysis.proto"),
        ("textlens.v1.Analysis.sentiment", "textlens/v1/analysis.proto"),
        ("textlens.v1.AnalyzeStreamResult.outcome", "textlens/v1/analysis_service.proto"),
        ("textlens.v1.ErrorReason", "textlens/v1/errors.proto"),
        ("textlens.v1.ERROR_REASON_TEXT_EMPTY", "textlens/v1/errors.proto"),
        ("google.rpc.Status", "google/rpc/status.proto"),
        ("google.rpc.ErrorInfo", "google/rpc/error_details.proto"),
        ("google.rpc.BadRequest.FieldViolation", "google/rpc/error_details.proto"),
        ("grpc.health.v1.Health.Check", "grpc_health/v1/health.proto"),
    ],
)
def test_finds_the_file_declaring_each_kind_of_symbol(
    source: DescriptorSetSource, symbol: str, file: str
) -> None:
    assert source.FindFileContainingSymbol(symbol).name == file


def test_an_unknown_symbol_is_a_key_error_as_in_a_descriptor_pool(
    source: DescriptorSetSource,
) -> None:
    with pytest.raises(KeyError):
        source.FindFileContainingSymbol("textlens.v1.NoSuchThing")
    with pytest.raises(KeyError):
        source.FindFileByName("textlens/v1/none.proto")


def test_files_carry_their_comments(source: DescriptorSetSource) -> None:
    proto = _copy(source.FindFileContainingSymbol("textlens.v1.AnalysisService.CreateAnalysis"))
    comments = list(_leading_comments(proto))
    assert any("Analyses one text now" in comment for comment in comments)


def test_files_list_their_imports_for_the_servicer_to_send_along(
    source: DescriptorSetSource,
) -> None:
    file = source.FindFileByName("textlens/v1/analysis_service.proto")
    assert [d.name for d in file.dependencies] == [
        "google/protobuf/empty.proto",
        "google/rpc/status.proto",
        "textlens/v1/analysis.proto",
    ]
    assert [d.name for d in file.dependencies[1].dependencies] == ["google/protobuf/any.proto"]


@pytest.mark.parametrize(
    "module", [analysis_pb2, analysis_service_pb2, batch_pb2, batch_service_pb2, errors_pb2]
)
def test_the_descriptor_set_describes_the_same_contract_as_the_stubs(
    source: DescriptorSetSource, module: object
) -> None:
    descriptor = module.DESCRIPTOR  # type: ignore[attr-defined]
    served = _copy(source.FindFileByName(descriptor.name))
    # The Python generator strips comments and json_name (derived from the field name).
    served.ClearField("source_code_info")
    for message in _messages(served.message_type):
        for field in message.field:
            field.ClearField("json_name")
    assert served == descriptor_pb2.FileDescriptorProto.FromString(descriptor.serialized_pb)


def test_extension_lookups_answer_from_the_same_files(source: DescriptorSetSource) -> None:
    analysis = source.FindMessageTypeByName("textlens.v1.Analysis")
    assert analysis.full_name == "textlens.v1.Analysis"
    assert source.FindAllExtensions(analysis) == []
