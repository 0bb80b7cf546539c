"""What a stream message of 1,000 items costs the event loop when the tenant is over budget.

    .venv/bin/python bench/rejected_items.py    # milliseconds per message, best of 5

Every item is refused (RESOURCE_EXHAUSTED): the time is validation, the rate-limit calls
and encoding the 1,000 refusals, all on the event loop, paid by the server for a caller
who gets nothing stored.
"""

from __future__ import annotations

import asyncio
import json
import time

from server.adapters.ratelimit import LimitsRateLimiter
from server.domain.analyzers import default_analyzers
from server.domain.model import AnalysisType
from server.service.analyst import Analyst
from server.service.streaming import StreamItem, StreamUseCases
from server.transport import codec

ITEMS = 1_000
TEXT = "Some ordinary words that would be fine to analyse. " * 10


async def main() -> dict[str, float]:
    limiter = LimitsRateLimiter("10/hour")
    streams = StreamUseCases(
        lambda: None,  # type: ignore[arg-type, return-value]  # nothing reaches storage
        Analyst(default_analyzers()),
        max_text_chars=10_000,
        limiter=limiter,
    )
    await limiter.acquire("bench", 10)  # the whole budget, spent
    items = [StreamItem(str(i), TEXT, AnalysisType.SENTIMENT) for i in range(ITEMS)]
    analyse, encode = [], []
    for _ in range(5):
        started = time.perf_counter()
        outcome = await streams.analyze_message("bench", items)
        checked = time.perf_counter()
        codec.stream_response(outcome)
        analyse.append(checked - started)
        encode.append(time.perf_counter() - checked)
    return {
        "validate_and_charge_ms": round(min(analyse) * 1000, 1),
        "encode_ms": round(min(encode) * 1000, 1),
        "total_ms": round(min(a + e for a, e in zip(analyse, encode, strict=True)) * 1000, 1),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
