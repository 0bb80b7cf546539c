"""Every way in detects or takes the stated language, refuses unsupported ones, and stores
the language with each analysis (use cases against fakes)."""

from __future__ import annotations

import pytest
from helpers.fakes import FakeLanguageDetector, FakeQualityAnalyzer, FakeStorage, units_of_work

from server.domain.errors import AlreadyExists, ErrorReason, InvalidArgument
from server.domain.language import Languages
from server.domain.model import AnalysisType
from server.service.analyses import AnalysisUseCases
from server.service.analyst import Analyst
from server.service.batches import BatchUseCases
from server.service.paging import Pager, PageTokens
from server.service.streaming import StreamItem, StreamUseCases

QUALITY = AnalysisType.QUALITY


@pytest.fixture
def detector() -> FakeLanguageDetector:
    return FakeLanguageDetector()


@pytest.fixture
def analyses(store: FakeStorage, detector: FakeLanguageDetector) -> AnalysisUseCases:
    return AnalysisUseCases(
        units_of_work(store),
        Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}),
        Pager(PageTokens(b"k")),
        max_text_chars=100,
        languages=Languages(detector),
    )


async def test_an_analysis_carries_the_detected_language(analyses: AnalysisUseCases) -> None:
    created = await analyses.create("acme", "three little words", QUALITY)
    assert (created.language, created.language_confidence) == ("en", 0.9)


async def test_a_text_in_another_language_is_refused_and_nothing_is_stored(
    analyses: AnalysisUseCases, store: FakeStorage
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await analyses.create("acme", "es: me encanta", QUALITY)
    assert caught.value.reason is ErrorReason.LANGUAGE_UNSUPPORTED
    assert [v.field for v in caught.value.violations] == ["text"]
    assert caught.value.metadata == {"language": "es", "supported": "en"}
    assert store.analyses == {}


async def test_a_stated_language_is_not_detected_and_has_confidence_one(
    analyses: AnalysisUseCases, detector: FakeLanguageDetector
) -> None:
    created = await analyses.create("acme", "es: but it is English", QUALITY, language_code="en-GB")
    assert (created.language, created.language_confidence) == ("en-GB", 1.0)
    assert detector.calls == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [("es", ErrorReason.LANGUAGE_UNSUPPORTED), ("en_US", ErrorReason.FIELD_INVALID)],
)
async def test_a_stated_unsupported_or_malformed_language_is_refused_on_language_code(
    analyses: AnalysisUseCases, store: FakeStorage, code: str, reason: ErrorReason
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await analyses.create("acme", "three little words", QUALITY, language_code=code)
    assert caught.value.reason is reason
    assert [v.field for v in caught.value.violations] == ["language_code"]
    assert store.analyses == {}


async def test_a_replay_counts_the_stated_language_as_part_of_the_payload(
    analyses: AnalysisUseCases,
) -> None:
    first = await analyses.create("acme", "three words here", QUALITY, "k1", language_code="en")
    again = await analyses.create("acme", "three words here", QUALITY, "k1", language_code="EN")
    assert again.id == first.id
    with pytest.raises(AlreadyExists):
        await analyses.create("acme", "three words here", QUALITY, "k1")
    plain = await analyses.create("acme", "three words here", QUALITY, "k2")
    with pytest.raises(AlreadyExists):
        await analyses.create("acme", "three words here", QUALITY, "k2", language_code="en")
    assert (await analyses.create("acme", "three words here", QUALITY, "k2")).id == plain.id


async def test_a_stream_refuses_only_the_item_in_another_language(
    store: FakeStorage, detector: FakeLanguageDetector
) -> None:
    streams = StreamUseCases(
        units_of_work(store),
        Analyst({AnalysisType.QUALITY: FakeQualityAnalyzer()}),
        max_text_chars=100,
        languages=Languages(detector),
    )
    outcome = await streams.analyze_message(
        "acme",
        [
            StreamItem("a", "fine words", QUALITY),
            StreamItem("b", "de: schöne Worte", QUALITY),
            StreamItem("c", "de: stated as English", QUALITY, "en"),
            StreamItem("d", "fine words", QUALITY, "fr"),
        ],
    )
    assert not isinstance(outcome, InvalidArgument)
    assert [o.analysis is not None for o in outcome] == [True, False, True, False]
    errors = [o.error for o in outcome if o.error is not None]
    assert [
        (e.reason, e.violations[0].field) for e in errors if isinstance(e, InvalidArgument)
    ] == [
        (ErrorReason.LANGUAGE_UNSUPPORTED, "text"),
        (ErrorReason.LANGUAGE_UNSUPPORTED, "language_code"),
    ]
    stated = outcome[2].analysis
    assert stated is not None and (stated.language, stated.language_confidence) == ("en", 1.0)


@pytest.fixture
def batches(store: FakeStorage, detector: FakeLanguageDetector) -> BatchUseCases:
    return BatchUseCases(
        units_of_work(store),
        Pager(PageTokens(b"k")),
        max_text_chars=100,
        max_batch_texts=10,
        languages=Languages(detector),
    )


async def test_a_batch_with_texts_in_other_languages_is_refused_whole_naming_each(
    batches: BatchUseCases, store: FakeStorage
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await batches.create("acme", ["fine", "es: uno", "fine", "de: zwei"], QUALITY)
    assert caught.value.reason is ErrorReason.LANGUAGE_UNSUPPORTED
    assert [v.field for v in caught.value.violations] == ["texts[1]", "texts[3]"]
    assert caught.value.metadata == {"language": "es", "supported": "en"}
    assert store.batches == {} and store.items == {}


async def test_a_batch_stating_its_language_is_not_detected_and_keeps_the_language(
    batches: BatchUseCases, store: FakeStorage, detector: FakeLanguageDetector
) -> None:
    batch = await batches.create("acme", ["es: uno", "dos"], QUALITY, "key", language_code="en")
    assert detector.calls == []
    assert batch.language_code == "en"
    assert [b.language_code for b in store.batches.values()] == ["en"]
    # The same request id with another stated language is another request.
    with pytest.raises(AlreadyExists):
        await batches.create("acme", ["es: uno", "dos"], QUALITY, "key", language_code="en-GB")
