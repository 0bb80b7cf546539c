"""Handing freed heap memory back to the system.

A large message (a batch of thousands of long texts) grows the C heap; once it is freed,
glibc keeps the pages for reuse, so a process's resident memory stays at its high-water
mark. ``malloc_trim`` returns the free pages. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache

TRIM_EVERY_SECONDS = 10.0


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_free_memory() -> bool:
    """Returns free heap pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
