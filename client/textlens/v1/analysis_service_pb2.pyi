from google.protobuf import empty_pb2 as _empty_pb2
from google.rpc import status_pb2 as _status_pb2
from textlens.v1 import analysis_pb2 as _analysis_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateAnalysisRequest(_message.Message):
    __slots__ = ("text", "analysis_type", "request_id", "language_code")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    text: str
    analysis_type: _analysis_pb2.AnalysisType
    request_id: str
    language_code: str
    def __init__(self, text: _Optional[str] = ..., analysis_type: _Optional[_Union[_analysis_pb2.AnalysisType, str]] = ..., request_id: _Optional[str] = ..., language_code: _Optional[str] = ...) -> None: ...

class GetAnalysisRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListAnalysesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "analysis_type", "status", "batch_id", "order_by")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    analysis_type: _analysis_pb2.AnalysisType
    status: _analysis_pb2.AnalysisStatus
    batch_id: str
    order_by: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., analysis_type: _Optional[_Union[_analysis_pb2.AnalysisType, str]] = ..., status: _Optional[_Union[_analysis_pb2.AnalysisStatus, str]] = ..., batch_id: _Optional[str] = ..., order_by: _Optional[str] = ...) -> None: ...

class ListAnalysesResponse(_message.Message):
    __slots__ = ("analyses", "next_page_token", "total_size")
    ANALYSES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    analyses: _containers.RepeatedCompositeFieldContainer[_analysis_pb2.Analysis]
    next_page_token: str
    total_size: int
    def __init__(self, analyses: _Optional[_Iterable[_Union[_analysis_pb2.Analysis, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class DeleteAnalysisRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class AnalyzeStreamRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AnalyzeStreamItem]
    def __init__(self, items: _Optional[_Iterable[_Union[AnalyzeStreamItem, _Mapping]]] = ...) -> None: ...

class AnalyzeStreamItem(_message.Message):
    __slots__ = ("ref", "text", "analysis_type", "language_code")
    REF_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_TYPE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    ref: str
    text: str
    analysis_type: _analysis_pb2.AnalysisType
    language_code: str
    def __init__(self, ref: _Optional[str] = ..., text: _Optional[str] = ..., analysis_type: _Optional[_Union[_analysis_pb2.AnalysisType, str]] = ..., language_code: _Optional[str] = ...) -> None: ...

class AnalyzeStreamResponse(_message.Message):
    __slots__ = ("results", "error")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AnalyzeStreamResult]
    error: _status_pb2.Status
    def __init__(self, results: _Optional[_Iterable[_Union[AnalyzeStreamResult, _Mapping]]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class AnalyzeStreamResult(_message.Message):
    __slots__ = ("ref", "analysis", "error")
    REF_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ref: str
    analysis: _analysis_pb2.Analysis
    error: _status_pb2.Status
    def __init__(self, ref: _Optional[str] = ..., analysis: _Optional[_Union[_analysis_pb2.Analysis, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...
