"""CPU time of the analyst answering from the result cache (the repeated-text path).

    .venv/bin/python bench/cache_hits.py    # microseconds per call, best of 5

A hit derives the entry's name and key from the text (keyed BLAKE2b), opens the sealed
strings (AES-GCM) and rebuilds the result: the price of entries that hold no text.
"""

from __future__ import annotations

import asyncio
import json
import time

from server.adapters.cache import LruResultCache
from server.domain.analyzers import default_analyzers
from server.domain.model import AnalysisType
from server.service.analyst import Analyst, Job

CALLS = 2_000
TEXTS = {
    "short": "I love this product, it works great and arrived on time!",
    "long": ("The new update made the app noticeably faster on my old phone. " * 30).strip(),
}


async def main() -> dict[str, float]:
    analyst = Analyst(default_analyzers(), cache=LruResultCache(), cache_secret=b"k" * 32)
    figures = {}
    for name, text in TEXTS.items():
        job = Job(text, AnalysisType.SENTIMENT)
        await analyst.run("bench", [job])  # the miss that fills the entry
        best = float("inf")
        for _ in range(5):
            started = time.process_time()
            for _ in range(CALLS):
                await analyst.run("bench", [job])
            best = min(best, (time.process_time() - started) / CALLS)
        figures[f"{name}_hit_us"] = round(best * 1e6, 1)
    return figures


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
