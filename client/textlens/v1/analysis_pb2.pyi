import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalysisType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANALYSIS_TYPE_UNSPECIFIED: _ClassVar[AnalysisType]
    ANALYSIS_TYPE_SENTIMENT: _ClassVar[AnalysisType]
    ANALYSIS_TYPE_QUALITY: _ClassVar[AnalysisType]
    ANALYSIS_TYPE_EMOTION: _ClassVar[AnalysisType]

class AnalysisStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANALYSIS_STATUS_UNSPECIFIED: _ClassVar[AnalysisStatus]
    ANALYSIS_STATUS_PENDING: _ClassVar[AnalysisStatus]
    ANALYSIS_STATUS_PROCESSING: _ClassVar[AnalysisStatus]
    ANALYSIS_STATUS_COMPLETED: _ClassVar[AnalysisStatus]
    ANALYSIS_STATUS_FAILED: _ClassVar[AnalysisStatus]

class SentimentLabel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENTIMENT_LABEL_UNSPECIFIED: _ClassVar[SentimentLabel]
    SENTIMENT_LABEL_POSITIVE: _ClassVar[SentimentLabel]
    SENTIMENT_LABEL_NEGATIVE: _ClassVar[SentimentLabel]
    SENTIMENT_LABEL_NEUTRAL: _ClassVar[SentimentLabel]

class QualityIssueKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUALITY_ISSUE_KIND_UNSPECIFIED: _ClassVar[QualityIssueKind]
    QUALITY_ISSUE_KIND_LONG_SENTENCE: _ClassVar[QualityIssueKind]
    QUALITY_ISSUE_KIND_SHOUTING: _ClassVar[QualityIssueKind]
    QUALITY_ISSUE_KIND_REPEATED_CHARACTERS: _ClassVar[QualityIssueKind]
    QUALITY_ISSUE_KIND_REPEATED_WORDS: _ClassVar[QualityIssueKind]
    QUALITY_ISSUE_KIND_NO_SENTENCE_PUNCTUATION: _ClassVar[QualityIssueKind]
    QUALITY_ISSUE_KIND_TOO_SHORT: _ClassVar[QualityIssueKind]

class Emotion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EMOTION_UNSPECIFIED: _ClassVar[Emotion]
    EMOTION_ANGER: _ClassVar[Emotion]
    EMOTION_ANTICIPATION: _ClassVar[Emotion]
    EMOTION_DISGUST: _ClassVar[Emotion]
    EMOTION_FEAR: _ClassVar[Emotion]
    EMOTION_JOY: _ClassVar[Emotion]
    EMOTION_SADNESS: _ClassVar[Emotion]
    EMOTION_SURPRISE: _ClassVar[Emotion]
    EMOTION_TRUST: _ClassVar[Emotion]
    EMOTION_NEUTRAL: _ClassVar[Emotion]
ANALYSIS_TYPE_UNSPECIFIED: AnalysisType
ANALYSIS_TYPE_SENTIMENT: AnalysisType
ANALYSIS_TYPE_QUALITY: AnalysisType
ANALYSIS_TYPE_EMOTION: AnalysisType
ANALYSIS_STATUS_UNSPECIFIED: AnalysisStatus
ANALYSIS_STATUS_PENDING: AnalysisStatus
ANALYSIS_STATUS_PROCESSING: AnalysisStatus
ANALYSIS_STATUS_COMPLETED: AnalysisStatus
ANALYSIS_STATUS_FAILED: AnalysisStatus
SENTIMENT_LABEL_UNSPECIFIED: SentimentLabel
SENTIMENT_LABEL_POSITIVE: SentimentLabel
SENTIMENT_LABEL_NEGATIVE: SentimentLabel
SENTIMENT_LABEL_NEUTRAL: SentimentLabel
QUALITY_ISSUE_KIND_UNSPECIFIED: QualityIssueKind
QUALITY_ISSUE_KIND_LONG_SENTENCE: QualityIssueKind
QUALITY_ISSUE_KIND_SHOUTING: QualityIssueKind
QUALITY_ISSUE_KIND_REPEATED_CHARACTERS: QualityIssueKind
QUALITY_ISSUE_KIND_REPEATED_WORDS: QualityIssueKind
QUALITY_ISSUE_KIND_NO_SENTENCE_PUNCTUATION: QualityIssueKind
QUALITY_ISSUE_KIND_TOO_SHORT: QualityIssueKind
EMOTION_UNSPECIFIED: Emotion
EMOTION_ANGER: Emotion
EMOTION_ANTICIPATION: Emotion
EMOTION_DISGUST: Emotion
EMOTION_FEAR: Emotion
EMOTION_JOY: Emotion
EMOTION_SADNESS: Emotion
EMOTION_SURPRISE: Emotion
EMOTION_TRUST: Emotion
EMOTION_NEUTRAL: Emotion

class Analysis(_message.Message):
    __slots__ = ("id", "text", "analysis_type", "status", "sentiment", "quality", "emotion", "error_message", "processing_time_ms", "batch_id", "create_time", "update_time", "process_time", "request_id", "batch_item", "language", "language_confidence")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PROCESS_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ITEM_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    analysis_type: AnalysisType
    status: AnalysisStatus
    sentiment: SentimentResult
    quality: QualityResult
    emotion: EmotionResult
    error_message: str
    processing_time_ms: float
    batch_id: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    process_time: _timestamp_pb2.Timestamp
    request_id: str
    batch_item: int
    language: str
    language_confidence: float
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., analysis_type: _Optional[_Union[AnalysisType, str]] = ..., status: _Optional[_Union[AnalysisStatus, str]] = ..., sentiment: _Optional[_Union[SentimentResult, _Mapping]] = ..., quality: _Optional[_Union[QualityResult, _Mapping]] = ..., emotion: _Optional[_Union[EmotionResult, _Mapping]] = ..., error_message: _Optional[str] = ..., processing_time_ms: _Optional[float] = ..., batch_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., process_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., batch_item: _Optional[int] = ..., language: _Optional[str] = ..., language_confidence: _Optional[float] = ...) -> None: ...

class AnalyzerInfo(_message.Message):
    __slots__ = ("name", "version", "lexicon", "model_sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LEXICON_FIELD_NUMBER: _ClassVar[int]
    MODEL_SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    lexicon: str
    model_sha256: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., lexicon: _Optional[str] = ..., model_sha256: _Optional[str] = ...) -> None: ...

class SentimentResult(_message.Message):
    __slots__ = ("score", "label", "magnitude", "positive", "negative", "neutral", "sentences", "analyzer")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    MAGNITUDE_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    NEUTRAL_FIELD_NUMBER: _ClassVar[int]
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    score: float
    label: SentimentLabel
    magnitude: float
    positive: float
    negative: float
    neutral: float
    sentences: _containers.RepeatedCompositeFieldContainer[SentenceSentiment]
    analyzer: AnalyzerInfo
    def __init__(self, score: _Optional[float] = ..., label: _Optional[_Union[SentimentLabel, str]] = ..., magnitude: _Optional[float] = ..., positive: _Optional[float] = ..., negative: _Optional[float] = ..., neutral: _Optional[float] = ..., sentences: _Optional[_Iterable[_Union[SentenceSentiment, _Mapping]]] = ..., analyzer: _Optional[_Union[AnalyzerInfo, _Mapping]] = ...) -> None: ...

class SentenceSentiment(_message.Message):
    __slots__ = ("text", "offset", "score", "label")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    text: str
    offset: int
    score: float
    label: SentimentLabel
    def __init__(self, text: _Optional[str] = ..., offset: _Optional[int] = ..., score: _Optional[float] = ..., label: _Optional[_Union[SentimentLabel, str]] = ...) -> None: ...

class QualityResult(_message.Message):
    __slots__ = ("score", "flesch_reading_ease", "grade_level", "word_count", "sentence_count", "lexical_diversity", "issues", "analyzer", "syllable_count")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FLESCH_READING_EASE_FIELD_NUMBER: _ClassVar[int]
    GRADE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    WORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    LEXICAL_DIVERSITY_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    SYLLABLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    score: float
    flesch_reading_ease: float
    grade_level: float
    word_count: int
    sentence_count: int
    lexical_diversity: float
    issues: _containers.RepeatedCompositeFieldContainer[QualityIssue]
    analyzer: AnalyzerInfo
    syllable_count: int
    def __init__(self, score: _Optional[float] = ..., flesch_reading_ease: _Optional[float] = ..., grade_level: _Optional[float] = ..., word_count: _Optional[int] = ..., sentence_count: _Optional[int] = ..., lexical_diversity: _Optional[float] = ..., issues: _Optional[_Iterable[_Union[QualityIssue, _Mapping]]] = ..., analyzer: _Optional[_Union[AnalyzerInfo, _Mapping]] = ..., syllable_count: _Optional[int] = ...) -> None: ...

class QualityIssue(_message.Message):
    __slots__ = ("kind", "message", "offset", "length")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    kind: QualityIssueKind
    message: str
    offset: int
    length: int
    def __init__(self, kind: _Optional[_Union[QualityIssueKind, str]] = ..., message: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class EmotionCategory(_message.Message):
    __slots__ = ("name", "score")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    name: str
    score: float
    def __init__(self, name: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class EmotionResult(_message.Message):
    __slots__ = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust", "dominant", "matched_word_count", "analyzer", "neutral", "categories")
    ANGER_FIELD_NUMBER: _ClassVar[int]
    ANTICIPATION_FIELD_NUMBER: _ClassVar[int]
    DISGUST_FIELD_NUMBER: _ClassVar[int]
    FEAR_FIELD_NUMBER: _ClassVar[int]
    JOY_FIELD_NUMBER: _ClassVar[int]
    SADNESS_FIELD_NUMBER: _ClassVar[int]
    SURPRISE_FIELD_NUMBER: _ClassVar[int]
    TRUST_FIELD_NUMBER: _ClassVar[int]
    DOMINANT_FIELD_NUMBER: _ClassVar[int]
    MATCHED_WORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    NEUTRAL_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    anger: float
    anticipation: float
    disgust: float
    fear: float
    joy: float
    sadness: float
    surprise: float
    trust: float
    dominant: Emotion
    matched_word_count: int
    analyzer: AnalyzerInfo
    neutral: float
    categories: _containers.RepeatedCompositeFieldContainer[EmotionCategory]
    def __init__(self, anger: _Optional[float] = ..., anticipation: _Optional[float] = ..., disgust: _Optional[float] = ..., fear: _Optional[float] = ..., joy: _Optional[float] = ..., sadness: _Optional[float] = ..., surprise: _Optional[float] = ..., trust: _Optional[float] = ..., dominant: _Optional[_Union[Emotion, str]] = ..., matched_word_count: _Optional[int] = ..., analyzer: _Optional[_Union[AnalyzerInfo, _Mapping]] = ..., neutral: _Optional[float] = ..., categories: _Optional[_Iterable[_Union[EmotionCategory, _Mapping]]] = ...) -> None: ...
