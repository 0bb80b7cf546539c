"""Pure conversion between domain values and textlens.v1 messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from google.protobuf import timestamp_pb2
from google.rpc import status_pb2

from server.domain.analyzers.base import (
    AnalysisResult,
    AnalyzerInfo,
    EmotionResult,
    QualityResult,
    SentimentResult,
)
from server.domain.errors import TextLensError
from server.domain.model import Analysis, Batch
from server.service.paging import Page
from server.service.streaming import ItemOutcome, MessageOutcome, StreamItem
from server.transport.errors import to_status_proto
from textlens.v1 import analysis_pb2, analysis_service_pb2, batch_pb2, batch_service_pb2

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


def sentiment(result: SentimentResult) -> analysis_pb2.SentimentResult:
    return analysis_pb2.SentimentResult(
        score=result.score,
        label=int(result.label),  # type: ignore[arg-type]
        magnitude=result.magnitude,
        positive=result.positive,
        negative=result.negative,
        neutral=result.neutral,
        sentences=[
            analysis_pb2.SentenceSentiment(
                text=s.text,
                offset=s.offset,
                score=s.score,
                label=int(s.label),  # type: ignore[arg-type]
            )
            for s in result.sentences
        ],
        analyzer=_analyzer(result.analyzer),
    )


def quality(result: QualityResult) -> analysis_pb2.QualityResult:
    return analysis_pb2.QualityResult(
        score=result.score,
        flesch_reading_ease=result.flesch_reading_ease,
        grade_level=result.grade_level,
        word_count=result.word_count,
        sentence_count=result.sentence_count,
        syllable_count=result.syllable_count,
        lexical_diversity=result.lexical_diversity,
        issues=[
            analysis_pb2.QualityIssue(
                kind=int(issue.kind),  # type: ignore[arg-type]
                message=issue.message,
                offset=issue.offset,
                length=issue.length,
            )
            for issue in result.issues
        ],
        analyzer=_analyzer(result.analyzer),
    )


def emotion(result: EmotionResult) -> analysis_pb2.EmotionResult:
    return analysis_pb2.EmotionResult(
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
        categories=[
            analysis_pb2.EmotionCategory(name=c.name, score=c.score) for c in result.categories
        ],
    )


def _set_result(message: analysis_pb2.Analysis, result: AnalysisResult) -> None:
    if isinstance(result, SentimentResult):
        message.sentiment.CopyFrom(sentiment(result))
    elif isinstance(result, QualityResult):
        message.quality.CopyFrom(quality(result))
    else:
        message.emotion.CopyFrom(emotion(result))


def analysis(value: Analysis) -> analysis_pb2.Analysis:
    message = analysis_pb2.Analysis(
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
    if value.result is not None:
        _set_result(message, value.result)
    return message


def analyses_page(page: Page[Analysis]) -> analysis_service_pb2.ListAnalysesResponse:
    return analysis_service_pb2.ListAnalysesResponse(
        analyses=[analysis(a) for a in page.items],
        next_page_token=page.next_page_token,
        total_size=page.total_size,
    )


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


def stream_items(request: analysis_service_pb2.AnalyzeStreamRequest) -> list[StreamItem]:
    return [
        StreamItem(item.ref, item.text, item.analysis_type, item.language_code)
        for item in request.items
    ]


def stream_response(outcome: MessageOutcome) -> analysis_service_pb2.AnalyzeStreamResponse:
    if isinstance(outcome, TextLensError):
        return analysis_service_pb2.AnalyzeStreamResponse(error=to_status_proto(outcome))
    # Items refused for one reason share one error object (every item over the rate
    # limit): its status is built once, so refused items cost next to nothing.
    statuses: dict[int, status_pb2.Status] = {}

    def status(error: TextLensError) -> status_pb2.Status:
        built = statuses.get(id(error))
        if built is None:
            built = statuses[id(error)] = to_status_proto(error)
        return built

    return analysis_service_pb2.AnalyzeStreamResponse(
        results=[
            analysis_service_pb2.AnalyzeStreamResult(
                ref=item.ref,
                analysis=analysis(item.analysis) if item.analysis is not None else None,
                error=status(item.error) if item.error is not None else None,
            )
            for item in outcome
        ]
    )


class StreamAnswerSize:
    """Sizes AnalyzeStream answers against the transport's send limit, cheaply: a message
    is encoded to be measured only when a bound says its answer could be too large."""

    # Besides its texts, an item's answer holds at most this many bytes (id, times, scores,
    # analyzer, emotion categories, quality issues), and each character of its text at
    # most this many (the text, again in its sentences, each sentence's own fields).
    PER_ITEM = 4096
    PER_CHAR = 64

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def of(self, outcomes: Sequence[ItemOutcome]) -> int:
        chars = sum(len(o.analysis.text) for o in outcomes if o.analysis is not None)
        bound = self.PER_ITEM * len(outcomes) + self.PER_CHAR * chars
        if bound <= self.limit:
            return bound
        return stream_response(list(outcomes)).ByteSize()
