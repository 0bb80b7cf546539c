"""The domain's enums mirror the contract's, and every ErrorInfo maps back to ErrorReason."""

from __future__ import annotations

import pytest
from google.rpc import error_details_pb2

from server.domain.errors import ErrorReason, TextLensError
from server.domain.model import AnalysisStatus, AnalysisType
from server.transport.errors import internal_status_proto, to_status_proto
from textlens.v1 import analysis_pb2, errors_pb2


def test_every_error_reason_exists_in_the_contract_and_back() -> None:
    contract = {
        name.removeprefix("ERROR_REASON_")
        for name in errors_pb2.ErrorReason.keys()  # noqa: SIM118 - an EnumTypeWrapper, not a dict
        if name != "ERROR_REASON_UNSPECIFIED"
    }
    assert {reason.value for reason in ErrorReason} == contract


def test_analysis_types_have_the_contracts_numbers() -> None:
    for member in AnalysisType:
        assert analysis_pb2.AnalysisType.Value(f"ANALYSIS_TYPE_{member.name}") == member.value
    assert len(AnalysisType) == len(analysis_pb2.AnalysisType.keys()) - 1


def test_analysis_statuses_have_the_contracts_numbers() -> None:
    for member in AnalysisStatus:
        assert analysis_pb2.AnalysisStatus.Value(f"ANALYSIS_STATUS_{member.name}") == member.value
    assert len(AnalysisStatus) == len(analysis_pb2.AnalysisStatus.keys()) - 1


@pytest.mark.parametrize("reason", list(ErrorReason))
def test_every_error_info_maps_back_to_the_contracts_enum_as_errors_proto_says(
    reason: ErrorReason,
) -> None:
    # errors.proto: check the domain, then look up "ERROR_REASON_" + reason by name.
    status = to_status_proto(TextLensError("failed", reason=reason))
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.domain == "textlens.v1"
    number = errors_pb2.ErrorReason.Value(f"ERROR_REASON_{info.reason}")
    assert errors_pb2.ErrorReason.Name(number) == f"ERROR_REASON_{reason.value}"


def test_an_internal_error_names_its_domain_and_reason_too() -> None:
    info = error_details_pb2.ErrorInfo()
    assert internal_status_proto().details[0].Unpack(info)
    assert (info.domain, info.reason) == ("textlens.v1", "INTERNAL")
