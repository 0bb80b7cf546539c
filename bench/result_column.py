"""What PostgreSQL spends storing and reading results, as json and as jsonb.

    .venv/bin/python bench/result_column.py    # milliseconds, best of 5, side by side

Results are stored as json (migration 0006). This writes the same results into a json
column, a jsonb one and a plain text one (the floor: no JSON at all) of temporary tables,
with the statement the server's inserts use (arrays unnested, the JSON text cast), and
reads them back as text: 1,000 results of short reviews, and one stream message's worth
(50) of results of 10,000-character reviews (320 sentences each).
"""

from __future__ import annotations

import asyncio
import json
import time

from database import Postgres

from server.adapters.db.engine import json_text
from server.domain.analyzers import SentimentAnalyzer

KINDS = ("json", "jsonb", "text")
ROUNDS = 5


async def measure(texts: list[str], results: list[str]) -> dict[str, dict[str, float]]:
    connection = await Postgres().connect("postgres")
    try:
        for kind in KINDS:
            await connection.execute(f"CREATE TEMP TABLE results_{kind} (t text, r {kind})")
        best: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
        for _ in range(ROUNDS):
            for kind in KINDS:  # side by side: each round writes and reads all three
                table = f"results_{kind}"
                started = time.perf_counter()
                async with connection.transaction():
                    await connection.execute(
                        f"INSERT INTO {table} "
                        f"SELECT * FROM unnest($1::text[], $2::text[]::{kind}[])",
                        texts,
                        results,
                    )
                written = time.perf_counter() - started
                started = time.perf_counter()
                await connection.fetch(f"SELECT r::text FROM {table}")
                read = time.perf_counter() - started
                await connection.execute(f"TRUNCATE {table}")
                best[kind]["write"] = min(best[kind].get("write", 1e9), written * 1000)
                best[kind]["read"] = min(best[kind].get("read", 1e9), read * 1000)
        return best
    finally:
        await connection.close()


def main() -> None:
    analyzer = SentimentAnalyzer()
    short = [f"Order {i} came quickly and I am happy with it, thanks!" for i in range(1_000)]
    long = [f"{i} " + "Slow reader text that goes on. " * 320 for i in range(50)]
    figures = {}
    for name, texts in (("1,000 short reviews", short), ("50 10,000-character reviews", long)):
        results = [json_text(analyzer.analyze(text).to_dict()) for text in texts]
        figures[name] = asyncio.run(measure(texts, results))
        for kind, each in figures[name].items():
            print(f"{name:28} {kind:6} write {each['write']:7.1f} ms  read {each['read']:6.1f} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
