"""How the command line prints messages: protobuf JSON, and a compact table for streams."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from textlens._streaming import StreamResult
from textlens.v1 import analysis_pb2


def message_dict(message: Message) -> dict[str, Any]:
    """Proto field names and enum names, zero values included, as grpcurl prints them."""
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )


def to_json(message: Message, *, pretty: bool) -> str:
    return json.dumps(message_dict(message), indent=2 if pretty else None, ensure_ascii=False)


def stream_result_json(result: StreamResult) -> str:
    out: dict[str, Any] = {"ref": result.ref}
    if result.analysis is not None:
        out["analysis"] = message_dict(result.analysis)
    if result.error is not None:
        out["error"] = result.error.to_dict()
    return json.dumps(out, ensure_ascii=False)


def summary(analysis: analysis_pb2.Analysis) -> str:
    """One short phrase for an analysis' result."""
    kind = analysis.WhichOneof("result")
    if kind == "sentiment":
        s = analysis.sentiment
        label = analysis_pb2.SentimentLabel.Name(s.label).removeprefix("SENTIMENT_LABEL_")
        return f"{label.lower()} {s.score:+.2f}"
    if kind == "quality":
        q = analysis.quality
        return f"quality {q.score:.2f}, grade {q.grade_level:.1f}"
    if kind == "emotion":
        e = analysis.emotion
        name = analysis_pb2.Emotion.Name(e.dominant).removeprefix("EMOTION_").lower()
        if name == "unspecified":
            return "no emotion words"
        return f"{name} {getattr(e, name):.2f}"
    status = analysis_pb2.AnalysisStatus.Name(analysis.status).removeprefix("ANALYSIS_STATUS_")
    return status.lower() + (f": {analysis.error_message}" if analysis.error_message else "")


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


TABLE_HEADER = f"{'REF':>6}  {'RESULT':<28}  TEXT"


def stream_result_row(result: StreamResult) -> str:
    if result.analysis is not None:
        outcome = summary(result.analysis)
        text = result.analysis.text
    else:
        assert result.error is not None
        outcome = f"error {result.error.reason or result.error.code.name}"
        text = result.error.message
    return f"{_clip(result.ref, 6):>6}  {_clip(outcome, 28):<28}  {_clip(text, 60)}"
