"""The NRC Emotion Lexicon as bundled in the nrclex package, read as plain data.

nrclex's own entry points tokenize with TextBlob, which wants NLTK corpora downloaded at
run time; only its JSON word list is used here, found without importing the package.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

from server.domain.analyzers.base import EMOTIONS, Emotion

LEXICON_FILE = ("data", "nrc_en.json")
# The shortest word suffix stripping may leave, so that "only" never becomes "on".
_MIN_STEM = 3

_SUFFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ies", ("y",)),
    ("ied", ("y",)),
    ("s", ("",)),
    ("es", ("",)),
    ("ed", ("e", "")),
    ("ing", ("", "e")),
    ("ily", ("y",)),
    ("ly", ("",)),
)
_DOUBLING = frozenset({"ed", "ing"})


def lexicon_version() -> str:
    return f"NRCLex {version('nrclex')} {LEXICON_FILE[-1]}"


def lexicon_path() -> Path:
    """Where nrc_en.json is installed; find_spec locates a package without running it."""
    spec = find_spec("nrclex")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the nrclex package (NRC Emotion Lexicon) is not installed: "
            "pip install 'textlens-server[nrc]'"
        )
    return Path(next(iter(spec.submodule_search_locations)), *LEXICON_FILE)


@cache
def load_lexicon() -> dict[str, tuple[Emotion, ...]]:
    """Word -> its Plutchik emotions; words with only positive/negative polarity are left out."""
    names = {emotion.name.lower(): emotion for emotion in EMOTIONS}
    raw: dict[str, list[str]] = json.loads(lexicon_path().read_text(encoding="utf-8"))
    lexicon: dict[str, tuple[Emotion, ...]] = {}
    for word, affects in raw.items():
        emotions = tuple(sorted({names[a] for a in affects if a in names}))
        if emotions:
            lexicon[word.lower()] = emotions
    return lexicon


def candidates(word: str) -> Iterator[str]:
    """The word, then the stems light suffix stripping gives, most specific first.

    "cries" -> "cry", "screamed" -> "scream", "scared" -> "scare", "hoping" -> "hope",
    "stopped" -> "stop", "angrily" -> "angry", "nightmares" -> "nightmare".
    """
    yield word
    if word.endswith("'s"):
        word = word[:-2]
        yield word
    for suffix, replacements in _SUFFIXES:
        if not word.endswith(suffix):
            continue
        stem = word[: -len(suffix)]
        for replacement in replacements:
            if len(stem + replacement) >= _MIN_STEM:
                yield stem + replacement
        if suffix in _DOUBLING and len(stem) > _MIN_STEM and stem[-1] == stem[-2]:
            yield stem[:-1]
