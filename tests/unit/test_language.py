"""Language detection (CLD2 and the rule around it) and the language tags a request states."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.errors import ErrorReason, InvalidArgument
from server.domain.language import (
    MIN_LETTERS,
    UNDETECTED,
    Cld2Detector,
    Language,
    Languages,
    canonical_tag,
)

DETECTOR = Cld2Detector()
LANGUAGES = Languages(DETECTOR)


@pytest.mark.parametrize(
    "text", ["ok", "lol 👍", "😍😍😍", "👍", "Great!", "merci", "si", "No.", "😂" * 500, "!!!"]
)
def test_very_short_or_letterless_texts_are_taken_as_english_with_confidence_zero(
    text: str,
) -> None:
    assert DETECTOR.detect(text) == UNDETECTED
    assert LANGUAGES.of(text, None) == Language("en", 0.0)


@pytest.mark.parametrize(
    "text",
    [
        "The hotel staff were friendly and the room was clean, but breakfast was cold.",
        "What a funny story.",  # CLD2 calls this Scots, which is read as English
        "Honestly the best purchase I made all year, would buy again!",
    ],
)
def test_english_is_detected_with_high_confidence(text: str) -> None:
    language = DETECTOR.detect(text)
    assert language.code == "en"
    assert language.confidence > 0.9


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Me encanta este producto, funciona muy bien.", "es"),
        ("Das Produkt ist super, ich bin sehr zufrieden.", "de"),
        ("Je suis très content de mon achat.", "fr"),
        ("快递太慢了，真的很失望。", "zh"),
        ("Батарея быстро садится.", "und"),  # CLD2 cannot tell, but it is not Latin script
    ],
)
def test_a_text_confidently_in_another_language_is_refused_naming_it(text: str, code: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        LANGUAGES.of(text, None, "texts[2]")
    error = caught.value
    assert error.reason is ErrorReason.LANGUAGE_UNSUPPORTED
    assert [v.field for v in error.violations] == ["texts[2]"]
    assert error.metadata == {"language": code, "supported": "en"}
    assert 'state language_code "en"' in error.violations[0].description


def test_a_stated_language_skips_detection_with_confidence_one() -> None:
    stated = LANGUAGES.stated("EN-us")
    assert stated == Language("en-US", 1.0, stated=True)
    assert LANGUAGES.of("Me encanta este producto, funciona muy bien.", stated) == stated


@pytest.mark.parametrize("code", ["es", "de-DE", "zh-Hant-TW", "ES"])
def test_a_stated_unsupported_language_is_refused_on_language_code(code: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        LANGUAGES.stated(code)
    assert caught.value.reason is ErrorReason.LANGUAGE_UNSUPPORTED
    assert [v.field for v in caught.value.violations] == ["language_code"]
    assert caught.value.metadata["language"] == canonical_tag(code)


@pytest.mark.parametrize("code", ["en_US", "e", "english", "en-", "-en", "en US", "x" * 40, "é"])
def test_a_malformed_language_code_is_field_invalid(code: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        LANGUAGES.stated(code)
    assert caught.value.reason is ErrorReason.FIELD_INVALID
    assert [v.field for v in caught.value.violations] == ["language_code"]


def test_no_stated_language_is_none() -> None:
    assert LANGUAGES.stated("") is None


def test_tags_are_cased_as_bcp_47_writes_them() -> None:
    assert canonical_tag("EN-us") == "en-US"
    assert canonical_tag("zh-hant-tw") == "zh-Hant-TW"
    assert canonical_tag("es-419") == "es-419"


def test_a_cjk_character_counts_as_three_letters() -> None:
    # Four characters, twelve letters: enough to detect, where four Latin letters are not.
    assert MIN_LETTERS <= 12
    assert DETECTOR.detect("不推荐买") != UNDETECTED


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_detection_never_raises_and_confidence_stays_in_range(text: str) -> None:
    language = DETECTOR.detect(text)
    assert 0 <= language.confidence <= 1
    assert language.code


@pytest.mark.parametrize(
    "text", ["\x00abc", "a\ud800b", "\x85\x1c", "\ufffe\uffff", "\U0010ffff", "x" * 10_000]
)
def test_characters_cld2_refuses_are_read_as_spaces(text: str) -> None:
    assert DETECTOR.detect(text).code == "en"
