"""The language a text is analysed as: stated by the caller, or detected with CLD2.

Every analyzer supports English only (VADER's lexicon, the en_US hyphenation dictionary,
an emotion model trained on English comments). A text is refused (INVALID_ARGUMENT,
LANGUAGE_UNSUPPORTED) only when it is confidently in another language; a text too short
or too ambiguous to tell is taken as English with confidence 0. docs/analyzers.md
compares the detectors that were measured for this and gives the figures behind the rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import pycld2

from server.domain.errors import ErrorReason, FieldViolation, InvalidArgument

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en",)
# Fewer letters than this (a Chinese, Japanese or Korean character counting as three,
# as one carries about a word) and a text is not detected at all: "ok", "lol 👍", "merci".
MIN_LETTERS = 10
# Only the start of a text is looked at: a language shows within a few hundred
# characters, and detection stays cheap on a 10,000-character text.
DETECTED_CHARS = 1_000
# CLD2 takes short English for Scots (sco) now and then; Scots is read as English.
_ENGLISH = frozenset({"en", "sco"})
# A language tag as BCP-47 (RFC 5646) writes it: language, then optional script, region
# and variants ("en", "en-US", "zh-Hant-TW"). Extensions and private use are not accepted.
_TAG = re.compile(
    r"[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
)
MAX_TAG_CHARS = 35  # what RFC 5646 asks every implementation to accept
# Characters CLD2 refuses as "invalid UTF-8": C0 and C1 controls (but tab and line
# ends), surrogates and noncharacters. They carry no language, so they become spaces.
_UNREADABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17))
    + "]"
)
_LETTER = re.compile(r"[^\W\d_]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass(frozen=True, slots=True)
class Language:
    """A BCP-47 code and the confidence in it, in [0, 1]; ``stated`` when the caller said so."""

    code: str
    confidence: float
    stated: bool = False

    @property
    def primary(self) -> str:
        """The language subtag, lower-cased: "en" for "en-US"."""
        return self.code.split("-", 1)[0].lower()


# What a text too short or too ambiguous to tell is taken as.
UNDETECTED = Language("en", 0.0)


class LanguageDetector(Protocol):
    def detect(self, text: str) -> Language:
        """The text's language: English with confidence 0 when it cannot tell. Never raises."""


def _letters(text: str) -> tuple[int, int]:
    """(letters, letters outside the Latin script), a CJK character counting as three."""
    cjk = len(_CJK.findall(text))
    letters = len(_LETTER.findall(text)) + 2 * cjk
    return letters, letters - len(_LATIN_LETTER.findall(text))


class Cld2Detector:
    """Google's Compact Language Detector 2 (pycld2), with the rule that decides refusals.

    - a text with fewer than MIN_LETTERS letters is not detected: English, confidence 0;
    - CLD2's answer counts when CLD2 calls it reliable: English (or Scots) with CLD2's
      share of the text as confidence, or another language, which is refused;
    - when CLD2 cannot tell, a text whose letters are mostly outside the Latin script is
      still not English (refused, as CLD2's best guess or "und"); anything else is
      English with confidence 0.
    """

    def detect(self, text: str) -> Language:
        sample = _UNREADABLE.sub(" ", text[:DETECTED_CHARS])
        try:
            reliable, _, details = pycld2.detect(sample, isPlainText=True)
        except (pycld2.error, ValueError):  # nothing readable was left
            return UNDETECTED
        code, percent = details[0][1], details[0][2]
        if reliable and code in _ENGLISH:
            return Language("en", percent / 100)
        return _not_reliably_english(sample, code if reliable else "un", percent)


def _not_reliably_english(sample: str, code: str, percent: int) -> Language:
    """Refused only with enough letters, and then either as CLD2's reliable answer or as
    a text written mostly outside the Latin script."""
    letters, foreign = _letters(sample)
    if letters < MIN_LETTERS:
        return UNDETECTED
    if code != "un":
        return Language(code, percent / 100)
    if foreign * 2 > letters:
        return Language("und", foreign / letters)
    return UNDETECTED


@cache
def default_detector() -> LanguageDetector:
    return Cld2Detector()


def canonical_tag(tag: str) -> str:
    """BCP-47's conventional casing: "EN-us" -> "en-US", "zh-hant-tw" -> "zh-Hant-TW"."""
    first, *rest = tag.split("-")
    parts = [first.lower()]
    for part in rest:
        if len(part) == 4 and part.isalpha():
            parts.append(part.title())
        elif len(part) == 2 and part.isalpha():
            parts.append(part.upper())
        else:
            parts.append(part.lower())
    return "-".join(parts)


class Languages:
    """Which language each text is analysed as, and which texts are refused."""

    def __init__(
        self,
        detector: LanguageDetector | None = None,
        supported: Sequence[str] = SUPPORTED_LANGUAGES,
    ) -> None:
        self._detector = detector or default_detector()
        self._supported = tuple(supported)

    @property
    def supported(self) -> tuple[str, ...]:
        return self._supported

    def stated(self, value: str, field: str = "language_code") -> Language | None:
        """The language a request states (None when it states none), or InvalidArgument."""
        if not value:
            return None
        if len(value) > MAX_TAG_CHARS or _TAG.fullmatch(value) is None:
            raise InvalidArgument.single(
                field,
                'is not a BCP-47 language tag such as "en" or "en-US"',
                ErrorReason.FIELD_INVALID,
            )
        language = Language(canonical_tag(value), 1.0, stated=True)
        violation = self.violation(language, field)
        if violation is not None:
            raise self.unsupported([(language, violation)])
        return language

    def detect(self, text: str) -> Language:
        """The detected language of a text, supported or not."""
        return self._detector.detect(text)

    def of(self, text: str, stated: Language | None, field: str = "text") -> Language:
        """The language to analyse ``text`` as, or InvalidArgument (LANGUAGE_UNSUPPORTED)."""
        language = stated or self._detector.detect(text)
        violation = self.violation(language, field)
        if violation is not None:
            raise self.unsupported([(language, violation)])
        return language

    def violation(self, language: Language, field: str) -> FieldViolation | None:
        if language.primary in self._supported:
            return None
        supported = ", ".join(self._supported)
        if language.stated:
            found = f"states {language.code!r}"
        else:
            found = (
                f"is detected as {language.code!r} (confidence {language.confidence:.2f}); "
                'if it is English, state language_code "en"'
            )
        return FieldViolation(
            field,
            f"{found}, but the analyzers support only {supported}",
            ErrorReason.LANGUAGE_UNSUPPORTED,
        )

    def unsupported(self, found: Sequence[tuple[Language, FieldViolation]]) -> InvalidArgument:
        """One error for every text refused; its metadata names the first one's language."""
        return InvalidArgument(
            [violation for _, violation in found],
            metadata={"language": found[0][0].code, "supported": ",".join(self._supported)},
        )
