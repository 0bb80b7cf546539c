"""CPU time of carrying one long text's result through the serving process.

    .venv/bin/python bench/long_results.py    # CPU per result, best of 5 (JSON: milliseconds)

A long text's result has hundreds of sentences. Besides its analysis (done elsewhere,
in the analysis process, while other tenants call), the serving process takes it back
from that process (unpickles it; the pickling is the analysis process's), encodes its row
for the database, encodes its answer, and makes and opens its cache entry. This times
each step on two texts: 10,000 emoji (443 sentences, cut at 60 words each) and a
10,000-character review (320 sentences); and, for comparison, on a 16-word review (one
sentence), where each step is microseconds beside the analysis itself, also timed.
"""

from __future__ import annotations

import functools
import json
import pickle
import random
import time
from collections.abc import Callable

from server.adapters.analysis_process import received, sent
from server.adapters.cache import LruResultCache
from server.adapters.db.bulk import _columns
from server.domain.analyzers import SentimentAnalyzer
from server.service.analyst import analyze, cache_key
from server.service.ports import CachedResult
from server.transport import codec

ROUNDS = 5
CALLS = 20
TEXTS = {
    "10,000 emoji": "".join(random.Random(7).choices("😍😂😡😢👍🔥🎉💔😱🙏", k=10_000)),
    "10,000-character review": "Slow reader text that goes on. " * 320,
    "16-word review": "The hotel staff were friendly and the room was clean, but breakfast "
    "was cold and late.",
}


def best_ms(step: Callable[[], object]) -> float:
    step()
    rounds = []
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(CALLS):
            step()
        rounds.append((time.process_time() - start) / CALLS * 1000)
    return min(rounds)


def taken_back(payload: bytes, text: str) -> object:
    """What the serving process does with what the analysis process sent back."""
    return received(pickle.loads(payload), text)


def main() -> dict[str, dict[str, float]]:
    analyzer = SentimentAnalyzer()
    figures = {}
    for name, text in TEXTS.items():
        analysis = analyze(analyzer, tenant="bench", text=text)
        result = analysis.result
        assert result is not None
        key = cache_key(b"k" * 32, "bench", analyzer, text)
        cached = CachedResult(analysis.analysis_type, result, 1.0)

        def cache_round_trip(key=key, cached=cached) -> object:
            entry = LruResultCache._entry(key, cached)
            assert entry is not None
            return LruResultCache._open(key, *entry)

        steps = {
            "transfer": functools.partial(taken_back, pickle.dumps(sent(result, 1.0, text)), text),
            "row": lambda a=analysis: _columns([a]),
            "answer": lambda a=analysis: codec.analysis(a).SerializeToString(),
            "cache": cache_round_trip,
        }
        each = {step: best_ms(run) for step, run in steps.items()}
        each["total"] = sum(each.values())
        each["analysis"] = best_ms(functools.partial(analyzer.analyze, text))
        sentences = len(result.sentences)  # type: ignore[union-attr]
        print(
            f"{name} ({sentences} sentences): "
            + ", ".join(f"{k} {v * 1000:,.0f} us" for k, v in each.items())
        )
        figures[name] = each
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
