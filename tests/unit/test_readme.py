"""The README starts where a new user does; the docs list every setting and metric."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from server.config import Settings
from server.transport.metrics import PrometheusMetrics

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
OBSERVABILITY = ROOT / "docs" / "observability.md"


def test_every_setting_is_documented() -> None:
    text = CONFIGURATION.read_text()
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


def _documented_metrics() -> dict[str, set[str]]:
    """The documented metric table: each metric with the labels it names (values, in
    parentheses, left out)."""
    lines = OBSERVABILITY.read_text().splitlines()
    start = lines.index("| Metric | Labels | Meaning |") + 2
    table: dict[str, set[str]] = {}
    for line in itertools.takewhile(lambda line: line.startswith("|"), lines[start:]):
        metric, labels, _meaning = (cell.strip() for cell in line.strip("|").split("|"))
        table[metric.strip("`")] = set(re.findall(r"`(\w+)`", re.sub(r"\(.*?\)", "", labels)))
    return table


def test_the_metric_table_matches_what_the_server_exports() -> None:
    exported = {
        metric._name + ("_total" if metric._type == "counter" else ""): set(metric._labelnames)
        for metric in vars(PrometheusMetrics()).values()
        if isinstance(metric, MetricWrapperBase)
    }
    assert _documented_metrics() == exported


def test_every_relative_link_in_the_readme_and_docs_leads_to_a_file() -> None:
    broken = []
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_readme_configuration_table_names_real_settings_with_their_defaults() -> None:
    lines = README.read_text().splitlines()
    start = lines.index("| Setting | Default | Meaning |") + 2
    rows = [line for line in itertools.takewhile(lambda line: line.startswith("|"), lines[start:])]
    assert rows, "the README's configuration table is empty"
    for row in rows:
        setting, default, _meaning = (cell.strip() for cell in row.strip("|").split("|"))
        name = setting.strip("`").removeprefix("TEXTLENS_").lower()
        assert name in Settings.model_fields, setting
        declared = Settings.model_fields[name].default
        if default.startswith("none"):
            assert declared is None, (setting, declared)
        elif default.startswith("`"):
            assert default.strip("`") == str(declared), (setting, declared)
