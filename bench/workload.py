"""The texts of the benchmark: short (~20 words) and long (~2,000 characters), distinct or not.

Distinct texts carry a serial number, so that no two texts of a run are the same and a
result cache cannot serve them; the repeated workload sends one text over and over.
"""

from __future__ import annotations

import itertools
import random
import struct
from collections.abc import Iterator

from analyzers import SENTENCES, SHORT

LENGTHS = ("short", "long")
SHORT_WORDS = 20
LONG_CHARS = 2_000
EXTRA = [
    "The checkout page kept timing out, which was frustrating.",
    "Delivery was quick and the parcel arrived in perfect condition.",
    "The manual is thin but the online help filled the gaps.",
    "Sadly the replacement had the same fault as the first one.",
    "Great value, and the staff went out of their way to help.",
    "Nothing special, it does the job and that is about it.",
]
POOL = SENTENCES + EXTRA


def _long(rng: random.Random, prefix: str) -> str:
    parts = [prefix]
    size = len(prefix)
    while True:
        sentence = rng.choice(POOL)
        if size + 1 + len(sentence) > LONG_CHARS:
            return " ".join(parts)
        parts.append(sentence)
        size += 1 + len(sentence)


def make_text(length: str, serial: int) -> str:
    """Text number ``serial`` of a kind: the same serial always gives the same text."""
    rng = random.Random(serial)
    prefix = f"Review {serial}:"
    if length == "short":
        words = f"{prefix} {rng.choice(POOL)} {rng.choice(POOL)}".split()
        return " ".join(words[:SHORT_WORDS]).rstrip(",.!?") + "."
    return _long(rng, prefix)


REPEATED = {"short": SHORT, "long": _long(random.Random(0), "Review:")}


class Texts:
    """Hands out texts: distinct ones numbered across the whole run, or the one repeated."""

    def __init__(self, start: int = 1) -> None:
        self._serials = itertools.count(start)

    def take(self, length: str, n: int, *, repeated: bool = False) -> list[str]:
        if repeated:
            return [REPEATED[length]] * n
        return [make_text(length, next(self._serials)) for _ in range(n)]

    def chunks(
        self, length: str, total: int, size: int, *, repeated: bool = False
    ) -> Iterator[list[str]]:
        """``total`` texts in lists of at most ``size``, made as they are needed."""
        while total > 0:
            n = min(size, total)
            total -= n
            yield self.take(length, n, repeated=repeated)


def grpc_frame(message: bytes) -> bytes:
    """One length-prefixed gRPC message: flag 0 (not compressed), 4-byte length, body."""
    return b"\x00" + struct.pack(">I", len(message)) + message
