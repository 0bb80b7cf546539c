"""The domain's enums mirror the contract's, so the codec can convert by number and name."""

from __future__ import annotations

from server.domain.errors import ErrorReason
from server.domain.model import AnalysisStatus, AnalysisType
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
