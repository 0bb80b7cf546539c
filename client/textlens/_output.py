"""How the command line prints: grpcurl's JSON, JSON lines, tables for terminals, CSV."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from google.protobuf.message import Message

from textlens import _json
from textlens._readable import named_enum
from textlens._streaming import StreamResult
from textlens.v1 import analysis_pb2, batch_pb2

EMOTIONS = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")


def to_json(message: Message, *, pretty: bool) -> str:
    """Pretty: exactly what grpcurl prints for the message. Otherwise one compact line."""
    return _json.dumps(_json.message_tree(message), indent=pretty)


def json_line(tree: dict[str, Any]) -> str:
    """One compact JSON line; messages inside go through ``_json.message_tree`` first."""
    return _json.dumps(tree, indent=False)


def stream_result_json(result: StreamResult) -> str:
    out: dict[str, Any] = {"ref": result.ref}
    if result.analysis is not None:
        out["analysis"] = _json.message_tree(result.analysis)
    if result.error is not None:
        out["error"] = result.error.to_dict()
    return json_line(out)


def name(descriptor: Any, number: int) -> str:
    """An enum value's short name (``POSITIVE``), empty for UNSPECIFIED."""
    enum_class = named_enum(descriptor)
    if number not in enum_class._value2member_map_:
        return str(number)
    short = enum_class(number).name
    return "" if short == "UNSPECIFIED" else short


def _enum(message: Message, field: str) -> str:
    descriptor = message.DESCRIPTOR.fields_by_name[field].enum_type
    return name(descriptor, getattr(message, field))


def summary(analysis: analysis_pb2.Analysis) -> str:
    """One short phrase for an analysis' result."""
    kind = analysis.WhichOneof("result")
    if kind == "sentiment":
        s = analysis.sentiment
        return f"{_enum(s, 'label').lower()} {s.score:+.2f}"
    if kind == "quality":
        q = analysis.quality
        return f"quality {q.score:.2f}, grade {q.grade_level:.1f}"
    if kind == "emotion":
        e = analysis.emotion
        dominant = _enum(e, "dominant").lower()
        if not dominant:
            return "no emotion found"
        score = getattr(e, dominant, None)
        return dominant if score is None else f"{dominant} {score:.2f}"
    status = _enum(analysis, "status").lower()
    return status + (f": {analysis.error_message}" if analysis.error_message else "")


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _time(message: Message, field: str) -> str:
    if not message.HasField(field):
        return "-"
    stamp = getattr(message, field).ToDatetime(tzinfo=UTC)
    return f"{stamp.astimezone():%Y-%m-%d %H:%M:%S}"


STREAM_HEADER = f"{'REF':>6}  {'RESULT':<28}  TEXT"


def stream_result_row(result: StreamResult) -> str:
    if result.analysis is not None:
        outcome = summary(result.analysis)
        text = result.analysis.text
    else:
        assert result.error is not None
        outcome = f"error {result.error.reason or result.error.code.name}"
        text = result.error.message
    return f"{clip(result.ref, 6):>6}  {clip(outcome, 28):<28}  {clip(text, 60)}"


ANALYSIS_HEADER = f"{'ID':<36}  {'TYPE':<9}  {'STATUS':<10}  {'RESULT':<24}  {'CREATED':<19}  TEXT"


def analysis_row(analysis: analysis_pb2.Analysis) -> str:
    return (
        f"{analysis.id:<36}  {_enum(analysis, 'analysis_type').lower():<9}  "
        f"{_enum(analysis, 'status').lower():<10}  {clip(summary(analysis), 24):<24}  "
        f"{_time(analysis, 'create_time'):<19}  {clip(analysis.text, 40)}"
    )


BATCH_HEADER = (
    f"{'ID':<36}  {'TYPE':<9}  {'STATUS':<10}  {'DONE':>13}  {'FAILED':>6}  {'CREATED':<19}"
)


def batch_row(batch: batch_pb2.Batch) -> str:
    done = f"{batch.completed_count + batch.failed_count}/{batch.total_count}"
    return (
        f"{batch.id:<36}  {_enum(batch, 'analysis_type').lower():<9}  "
        f"{_enum(batch, 'status').lower():<10}  {done:>13}  {batch.failed_count:>6}  "
        f"{_time(batch, 'create_time'):<19}"
    )


_CSV_COLUMNS: dict[int, list[str]] = {
    analysis_pb2.ANALYSIS_TYPE_SENTIMENT: ["label", "score", "magnitude"],
    analysis_pb2.ANALYSIS_TYPE_QUALITY: [
        "score",
        "grade_level",
        "flesch_reading_ease",
        "word_count",
        "issues",
    ],
    analysis_pb2.ANALYSIS_TYPE_EMOTION: ["dominant", *EMOTIONS, "neutral"],
}


def csv_header(analysis_type: int) -> list[str]:
    """Columns of ``batch results --output csv`` for a batch of this analysis type."""
    return ["index", "id", "status", *_CSV_COLUMNS.get(int(analysis_type), []), "error", "text"]


def csv_row(
    index: int, analysis: analysis_pb2.Analysis | None, error: str, analysis_type: int
) -> list[Any]:
    columns = csv_header(analysis_type)
    values: dict[str, Any] = {"index": index, "error": error}
    if analysis is not None:
        values.update(id=analysis.id, status=_enum(analysis, "status"), text=analysis.text)
        kind = analysis.WhichOneof("result")
        if kind == "sentiment":
            s = analysis.sentiment
            values.update(label=_enum(s, "label"), score=s.score, magnitude=s.magnitude)
        elif kind == "quality":
            q = analysis.quality
            values.update(
                score=q.score,
                grade_level=q.grade_level,
                flesch_reading_ease=q.flesch_reading_ease,
                word_count=q.word_count,
                issues=";".join(_enum(issue, "kind") for issue in q.issues),
            )
        elif kind == "emotion":
            e = analysis.emotion
            values.update({emotion: getattr(e, emotion) for emotion in EMOTIONS})
            values.update(dominant=_enum(e, "dominant"), neutral=e.neutral)
    return [values.get(column, "") for column in columns]
