"""Pure conversion between domain values and textlens.v1 messages."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from google.protobuf import timestamp_pb2
from google.rpc import status_pb2

from server.domain.analyzers.base import (
    AnalysisResult,
    AnalyzerInfo,
    EmotionResult,
    QualityResult,
    SentimentResult,
)
from server.domain.errors import ErrorReason, FieldViolation, InvalidArgument, TextLensError
from server.domain.model import Analysis, AnalysisStatus, AnalysisType, Batch, BatchStatus
from server.domain.validation import require_id
from server.service.analyst import cooperatively
from server.service.concurrency import off_loop_if_long
from server.service.paging import (
    DEFAULT_PAGE_SIZE,
    INPUT_ORDER,
    MAX_PAGE_SIZE,
    ListQuery,
    Order,
    Page,
)
from server.service.ports import AnalysisFilter, BatchFilter
from server.service.streaming import ItemOutcome, MessageOutcome, StreamItem
from server.transport.errors import to_status_proto
from textlens.v1 import analysis_pb2, analysis_service_pb2, batch_pb2, batch_service_pb2

E = TypeVar("E", AnalysisType, AnalysisStatus, BatchStatus)
F = TypeVar("F")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """The Timestamp of an aware datetime (naive ones are taken as UTC), in integer
    arithmetic: a few times faster than ``Timestamp.FromDatetime``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return timestamp_pb2.Timestamp(
        seconds=(value - _EPOCH) // _SECOND, nanos=value.microsecond * 1000
    )


def _analyzer(info: AnalyzerInfo) -> analysis_pb2.AnalyzerInfo:
    return analysis_pb2.AnalyzerInfo(
        name=info.name, version=info.version, lexicon=info.lexicon, model_sha256=info.model_sha256
    )


# Results are built in place, inside the message that carries them: a message given to a
# constructor or to CopyFrom is copied whole, and a long text's result has hundreds of
# sentences (or issues), so every copy would cost as much as building it.


def _fill_sentiment(message: analysis_pb2.SentimentResult, result: SentimentResult) -> None:
    message.MergeFrom(
        analysis_pb2.SentimentResult(
            score=result.score,
            label=int(result.label),  # type: ignore[arg-type]
            magnitude=result.magnitude,
            positive=result.positive,
            negative=result.negative,
            neutral=result.neutral,
            analyzer=_analyzer(result.analyzer),
        )
    )
    add = message.sentences.add
    for text, offset, score, label in result.sentences:
        add(text=text, offset=offset, score=score, label=label)


def _fill_quality(message: analysis_pb2.QualityResult, result: QualityResult) -> None:
    message.MergeFrom(
        analysis_pb2.QualityResult(
            score=result.score,
            flesch_reading_ease=result.flesch_reading_ease,
            grade_level=result.grade_level,
            word_count=result.word_count,
            sentence_count=result.sentence_count,
            syllable_count=result.syllable_count,
            lexical_diversity=result.lexical_diversity,
            analyzer=_analyzer(result.analyzer),
        )
    )
    add = message.issues.add
    for kind, text, offset, length in result.issues:
        add(kind=kind, message=text, offset=offset, length=length)


def _fill_emotion(message: analysis_pb2.EmotionResult, result: EmotionResult) -> None:
    message.MergeFrom(
        analysis_pb2.EmotionResult(
            anger=result.anger,
            anticipation=result.anticipation,
            disgust=result.disgust,
            fear=result.fear,
            joy=result.joy,
            sadness=result.sadness,
            surprise=result.surprise,
            trust=result.trust,
            dominant=int(result.dominant),  # type: ignore[arg-type]
            matched_word_count=result.matched_word_count,
            analyzer=_analyzer(result.analyzer),
            neutral=result.neutral,
        )
    )
    add = message.categories.add
    for name, score in result.categories:
        add(name=name, score=score)


def _fill_result(message: analysis_pb2.Analysis, result: AnalysisResult) -> None:
    if isinstance(result, SentimentResult):
        _fill_sentiment(message.sentiment, result)
    elif isinstance(result, QualityResult):
        _fill_quality(message.quality, result)
    else:
        _fill_emotion(message.emotion, result)


def fill_analysis(message: analysis_pb2.Analysis, value: Analysis) -> None:
    """Writes ``value`` into ``message`` (a new, empty one, or one inside another)."""
    message.MergeFrom(
        analysis_pb2.Analysis(
            id=value.id,
            text=value.text,
            analysis_type=int(value.analysis_type),  # type: ignore[arg-type]
            status=int(value.status),  # type: ignore[arg-type]
            error_message=value.error_message,
            processing_time_ms=value.processing_time_ms,
            batch_id=value.batch_id or "",
            batch_item=value.batch_item,
            create_time=timestamp(value.create_time),
            update_time=timestamp(value.update_time),
            process_time=timestamp(value.process_time),
            request_id=value.request_id or "",
            language=value.language,
            language_confidence=value.language_confidence,
        )
    )
    if value.result is not None:
        _fill_result(message, value.result)


def analysis(value: Analysis) -> analysis_pb2.Analysis:
    message = analysis_pb2.Analysis()
    fill_analysis(message, value)
    return message


def analyses_page(page: Page[Analysis]) -> analysis_service_pb2.ListAnalysesResponse:
    response = analysis_service_pb2.ListAnalysesResponse(
        next_page_token=page.next_page_token, total_size=page.total_size
    )
    add = response.analyses.add
    for item in page.items:
        fill_analysis(add(), item)
    return response


def batch(value: Batch) -> batch_pb2.Batch:
    return batch_pb2.Batch(
        id=value.id,
        analysis_type=int(value.analysis_type),  # type: ignore[arg-type]
        status=int(value.status),  # type: ignore[arg-type]
        total_count=value.total_count,
        completed_count=value.completed_count,
        failed_count=value.failed_count,
        create_time=timestamp(value.create_time),
        update_time=timestamp(value.update_time),
        complete_time=timestamp(value.complete_time),
        request_id=value.request_id or "",
    )


def batches_page(page: Page[Batch]) -> batch_service_pb2.ListBatchesResponse:
    return batch_service_pb2.ListBatchesResponse(
        batches=[batch(b) for b in page.items],
        next_page_token=page.next_page_token,
        total_size=page.total_size,
    )


def analysis_type(value: int) -> AnalysisType | FieldViolation:
    """The analysis type a request asks for, or why it names none: reported by the use
    case together with whatever else is wrong with the request."""
    if value == 0:
        return FieldViolation("analysis_type", "must be set", ErrorReason.ANALYSIS_TYPE_MISSING)
    if value not in AnalysisType._value2member_map_:
        return FieldViolation(
            "analysis_type",
            f"{value} is not a known analysis type",
            ErrorReason.ANALYSIS_TYPE_UNKNOWN,
        )
    return AnalysisType(value)


def _enum_filter(value: int, enum: type[E], field: str) -> E | None:
    """A list filter on an enum field: 0 means no filter, unknown numbers are invalid."""
    if value == 0:
        return None
    if value not in enum._value2member_map_:
        raise InvalidArgument.single(field, f"{value} is not a known value of {field}")
    return enum(value)


def page_size(value: int) -> int:
    """0 means the default; values above the maximum are capped; negative is invalid."""
    if value < 0:
        raise InvalidArgument.single(
            "page_size", "must not be negative", ErrorReason.PAGE_SIZE_NEGATIVE
        )
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def order(value: str, *, batch: bool = False) -> Order:
    """``create_time`` or ``update_time``, then optionally `` desc``; empty is the default.

    ``batch``: the listing is one batch's results, which may also be ordered by
    ``batch_item`` and default to it (input order).
    """
    fields = (
        ("create_time", "update_time", "batch_item") if batch else ("create_time", "update_time")
    )
    words = value.split()
    if not words:
        return INPUT_ORDER if batch else Order()
    if words[0] in fields and (
        len(words) == 1 or (len(words) == 2 and words[1].lower() in ("asc", "desc"))
    ):
        descending = len(words) == 2 and words[1].lower() == "desc"
        return Order(field=words[0], descending=descending)  # type: ignore[arg-type]
    # The value is quoted only when short: an error must not grow with what was sent.
    quoted = repr(value) if len(value) <= 40 else "this order"
    also = ", or batch_item with batch_id" if not batch else " or batch_item"
    raise InvalidArgument.single(
        "order_by",
        f"{quoted} is not supported; use create_time or update_time{also}, optionally with ' desc'",
        ErrorReason.ORDER_BY_INVALID,
    )


def analyses_query(request: analysis_service_pb2.ListAnalysesRequest) -> ListQuery[AnalysisFilter]:
    where = AnalysisFilter(
        analysis_type=_enum_filter(request.analysis_type, AnalysisType, "analysis_type"),
        status=_enum_filter(request.status, AnalysisStatus, "status"),
        batch_id=require_id(request.batch_id, "batch_id") if request.batch_id else None,
    )
    return _query(where, request, batch=where.batch_id is not None)


def batches_query(request: batch_service_pb2.ListBatchesRequest) -> ListQuery[BatchFilter]:
    where = BatchFilter(
        status=_enum_filter(request.status, BatchStatus, "status"),
        analysis_type=_enum_filter(request.analysis_type, AnalysisType, "analysis_type"),
    )
    return _query(where, request)


def _query(
    where: F,
    request: analysis_service_pb2.ListAnalysesRequest | batch_service_pb2.ListBatchesRequest,
    *,
    batch: bool = False,
) -> ListQuery[F]:
    """A list request's query: its filters (decoded first), page size and order, checked
    in that order, so that the first bad field reported is the one it always was."""
    return ListQuery(
        where,
        page_size=page_size(request.page_size),
        order=order(request.order_by, batch=batch),
        page_token=request.page_token,
    )


def stream_items(request: analysis_service_pb2.AnalyzeStreamRequest) -> list[StreamItem]:
    return [
        StreamItem(item.ref, item.text, analysis_type(item.analysis_type), item.language_code)
        for item in request.items
    ]


class _Statuses:
    """Items refused for one reason share one error object (every item over the rate
    limit): its status is built once, so refused items cost next to nothing."""

    def __init__(self) -> None:
        self._built: dict[int, status_pb2.Status] = {}

    def __call__(self, error: TextLensError) -> status_pb2.Status:
        built = self._built.get(id(error))
        if built is None:
            built = self._built[id(error)] = to_status_proto(error)
        return built


def stream_response(outcome: MessageOutcome) -> analysis_service_pb2.AnalyzeStreamResponse:
    if isinstance(outcome, TextLensError):
        return analysis_service_pb2.AnalyzeStreamResponse(error=to_status_proto(outcome))
    statuses = _Statuses()
    response = analysis_service_pb2.AnalyzeStreamResponse()
    add = response.results.add
    for item in outcome:
        _fill_stream_result(add(), item, statuses)
    return response


def _fill_stream_result(
    message: analysis_service_pb2.AnalyzeStreamResult, item: ItemOutcome, statuses: _Statuses
) -> None:
    message.ref = item.ref
    if item.analysis is not None:
        fill_analysis(message.analysis, item.analysis)
    if item.error is not None:
        message.error.CopyFrom(statuses(item.error))


async def stream_response_off_loop(
    outcome: MessageOutcome,
) -> analysis_service_pb2.AnalyzeStreamResponse:
    """``stream_response``; a message of long texts takes tens of milliseconds to encode
    (every sentence is a message of its own), so it is encoded in a thread, and the event
    loop's other calls do not wait for it."""
    if isinstance(outcome, TextLensError):
        return stream_response(outcome)
    chars = sum(len(o.analysis.text) for o in outcome if o.analysis is not None)
    return await off_loop_if_long(chars, functools.partial(stream_response, outcome))


def _utf8_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _varint_bytes(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


class StreamAnswerSize:
    """Sizes AnalyzeStream answers against the transport's send limit, cheaply: from the
    lengths of the strings an answer repeats, item by item, handing the event loop back
    between items; an answer is encoded to be measured only when that bound is over the
    limit, and then item by item too."""

    # Besides its strings, an item's answer holds at most this many bytes (id, times,
    # scores, analyzer, emotion categories, tags), and each sentence or quality issue at
    # most this many besides its text (offset, length, score, label, tags).
    PER_ITEM = 4096
    PER_PART = 48

    def __init__(self, limit: int) -> None:
        self.limit = limit

    async def of(self, outcomes: Sequence[ItemOutcome]) -> int:
        bound = 0
        async for outcome in cooperatively(outcomes):
            bound += self._bound(outcome)
        if bound <= self.limit:
            return bound
        size, statuses = 0, _Statuses()
        async for outcome in cooperatively(outcomes):
            message = analysis_service_pb2.AnalyzeStreamResult()
            _fill_stream_result(message, outcome, statuses)
            item = message.ByteSize()
            size += 1 + _varint_bytes(item) + item
        return size

    def _bound(self, outcome: ItemOutcome) -> int:
        bound = self.PER_ITEM + _utf8_bytes(outcome.ref)
        value = outcome.analysis
        if value is None:
            return bound
        bound += _utf8_bytes(value.text)
        result = value.result
        if isinstance(result, SentimentResult):
            parts = [s.text for s in result.sentences]
        elif isinstance(result, QualityResult):
            parts = [issue.message for issue in result.issues]
        else:
            parts = []
        return bound + sum(self.PER_PART + _utf8_bytes(part) for part in parts)
