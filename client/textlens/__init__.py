"""TextLens client library: ``AsyncClient`` and ``Client`` for the TextLens gRPC service.

    from textlens import AsyncClient

    async with AsyncClient("localhost:50051", token=token) as client:
        analysis = await client.create_analysis("I like it.", analysis_type="sentiment")

Methods return the generated messages of ``textlens.v1``; ``readable(message)`` views
one with enum names and datetimes (``print(readable(analysis).sentiment.label)`` prints
``POSITIVE``). Failures raise subclasses of ``TextLensError`` (see ``textlens._errors``
for the tree).
"""

from textlens._channel import TLS, Keepalive, TokenSource
from textlens._client import AsyncClient
from textlens._errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    FieldViolation,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ProtocolError,
    ResourceExhausted,
    TextLensError,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
)
from textlens._readable import NamedEnum, Readable, readable
from textlens._retry import Retry
from textlens._streaming import StreamInput, StreamResult
from textlens._sync import Client, SyncIterator
from textlens._values import DEFAULT
from textlens.v1.analysis_pb2 import Analysis, AnalysisStatus, AnalysisType
from textlens.v1.analysis_service_pb2 import ListAnalysesResponse
from textlens.v1.batch_pb2 import Batch, BatchStatus
from textlens.v1.batch_service_pb2 import ListBatchesResponse

__version__ = "0.1.0"

__all__ = [
    "DEFAULT",
    "TLS",
    "Aborted",
    "AlreadyExists",
    "Analysis",
    "AnalysisStatus",
    "AnalysisType",
    "AsyncClient",
    "Batch",
    "BatchStatus",
    "Cancelled",
    "Client",
    "DataLoss",
    "DeadlineExceeded",
    "FailedPrecondition",
    "FieldViolation",
    "Internal",
    "InvalidArgument",
    "Keepalive",
    "ListAnalysesResponse",
    "ListBatchesResponse",
    "NamedEnum",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ProtocolError",
    "Readable",
    "ResourceExhausted",
    "Retry",
    "StreamInput",
    "StreamResult",
    "SyncIterator",
    "TextLensError",
    "TokenSource",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "readable",
]
