"""The README documents every setting the server reads."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from server.config import Settings
from server.transport.metrics import PrometheusMetrics

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_appears_in_the_readme() -> None:
    text = README.read_text()
    missing = [
        f"TEXTLENS_{name.upper()}"
        for name in Settings.model_fields
        if f"`TEXTLENS_{name.upper()}`" not in text
    ]
    assert missing == []


def test_the_readme_starts_with_make_run_and_make_test() -> None:
    commands = [
        line.split()[0:2] for line in README.read_text().splitlines() if line.startswith("make ")
    ]
    assert commands[:2] == [["make", "run"], ["make", "test"]]


def _readme_metrics() -> dict[str, set[str]]:
    """The README's metric table: each metric with the labels it names (values, in
    parentheses, left out)."""
    lines = README.read_text().splitlines()
    start = lines.index("| Metric | Labels | Meaning |") + 2
    table: dict[str, set[str]] = {}
    for line in itertools.takewhile(lambda line: line.startswith("|"), lines[start:]):
        metric, labels, _meaning = (cell.strip() for cell in line.strip("|").split("|"))
        table[metric.strip("`")] = set(re.findall(r"`(\w+)`", re.sub(r"\(.*?\)", "", labels)))
    return table


def test_the_readme_metric_table_matches_what_the_server_exports() -> None:
    exported = {
        metric._name + ("_total" if metric._type == "counter" else ""): set(metric._labelnames)
        for metric in vars(PrometheusMetrics()).values()
        if isinstance(metric, MetricWrapperBase)
    }
    assert _readme_metrics() == exported
