"""Results: the JSON file, the comparison with the previous run, and the targets.

Figures are flat names ("unary.short.c64.requests_per_second"); names ending in ``_ms``,
``seconds``, ``_mb``, CPU per call or text, or the ratio to the bare echo server are
better lower, all others better higher.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

THRESHOLD = 0.20
LOWER_IS_BETTER = ("_ms", "seconds", "_mb", "_per_call", "_per_text", "ratio_to_echo")


def lower_is_better(name: str) -> bool:
    return name.endswith(LOWER_IS_BETTER)


def previous_result(results: Path, settings: dict[str, Any]) -> Path | None:
    """latest.json if it ran with the same settings (sizes, durations, concurrency,
    workers), else the newest run that did: other runs measure other things."""
    latest = results / "latest.json"
    candidates = [latest] if latest.exists() else []
    candidates += sorted(results.glob("2*.json"), reverse=True)
    for path in candidates:
        try:
            if json.loads(path.read_text()).get("settings") == settings:
                return path
        except (OSError, ValueError):
            continue
    return None


def compare(old: dict[str, float], new: dict[str, float]) -> list[dict[str, Any]]:
    """Every figure present in both runs that is more than THRESHOLD worse."""
    worse = []
    for name, value in sorted(new.items()):
        before = old.get(name)
        if before is None or not all(map(math.isfinite, (before, value))) or before == 0:
            continue
        change = (value - before) / abs(before)
        if (lower_is_better(name) and change > THRESHOLD) or (
            not lower_is_better(name) and change < -THRESHOLD
        ):
            worse.append({"figure": name, "before": before, "now": value, "change": change})
    return worse


# The targets: what, the figure, whether it must be at least (True) or below (False)
# the bound, the bound, and the unit shown.
TARGETS = [
    ("AnalyzeStream short >= 0.50 x ceiling", "stream.distinct.short.ratio_to_ceiling", True,
     0.5, "x"),
    ("batch short >= 0.40 x ceiling", "batch.distinct.short.ratio_to_ceiling", True, 0.4, "x"),
    ("unary uncached c64 >= 3 x FastAPI peer", "unary_uncached.short.c64.ratio_to_peer", True,
     3.0, "x"),
    ("unary cached c16 p99 < 20 ms", "unary.short.c16.p99_ms", False, 20.0, "ms"),
    ("unary uncached c16 p99 < 20 ms", "unary_uncached.short.c16.p99_ms", False, 20.0, "ms"),
    ("cached CreateAnalysis CPU <= 2 x bare echo", "overhead.cached_create.ratio_to_echo",
     False, 2.0001, "x"),
    ("Health/Check CPU <= 1.3 x bare echo", "overhead.health_check.ratio_to_echo", False,
     1.3001, "x"),
    ("server memory (PSS) < 300 MB", "memory.server_peak_pss_mb", False, 300.0, "MB"),
    ("event loop hold of one call < 20 ms", "loop_hold.max_hold_ms", False, 20.0, "ms"),
]  # fmt: skip


def targets(figures: dict[str, float]) -> list[tuple[str, bool | None, str]]:
    """Each target as (what, met or None when not measured, the figure)."""
    outcomes: list[tuple[str, bool | None, str]] = []
    for what, name, at_least, bound, unit in TARGETS:
        value = figures.get(name)
        if value is None or not math.isfinite(value):
            outcomes.append((what, None, "not measured"))
            continue
        met = value >= bound if at_least else value < bound
        digits = 2 if unit == "x" else 1
        outcomes.append((what, met, f"{value:.{digits}f} {unit}"))
    return outcomes


def write(results: Path, stamp: str, document: dict[str, Any]) -> Path:
    results.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=False, default=str) + "\n"
    path = results / f"{stamp}.json"
    path.write_text(text)
    (results / "latest.json").write_text(text)
    return path
