"""Pure conversion between domain values and textlens.v1 messages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import timestamp_pb2

from server.domain.analyzers.base import (
    AnalysisResult,
    AnalyzerInfo,
    EmotionResult,
    QualityResult,
    SentimentResult,
)
from server.domain.model import Analysis
from server.service.paging import Page
from textlens.v1 import analysis_pb2, analysis_service_pb2


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value)
    return message


def _analyzer(info: AnalyzerInfo) -> analysis_pb2.AnalyzerInfo:
    return analysis_pb2.AnalyzerInfo(name=info.name, version=info.version, lexicon=info.lexicon)


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
        create_time=timestamp(value.create_time),
        update_time=timestamp(value.update_time),
        process_time=timestamp(value.process_time),
        request_id=value.request_id or "",
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
