"""The alerting rules parse, fire when they should, and select what the server exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.deploy import KUBERNETES, tool
from prometheus_client import Counter, Gauge, Histogram

from server.transport.metrics import PrometheusMetrics

pytestmark = pytest.mark.deploy

RULE = KUBERNETES / "components" / "monitoring" / "prometheus-rule.yaml"
UNIT_TESTS = Path(__file__).with_name("alerts_test.yaml")
# Status codes as go-grpc-prometheus labels them (Go's codes.Code.String()).
GO_GRPC_CODES = {
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
}
# Labels Prometheus itself attaches to every scraped series (the PodMonitor's target).
TARGET_LABELS = {"job", "namespace", "pod", "instance", "le"}


def _groups() -> list[dict[str, Any]]:
    rule = yaml.safe_load(RULE.read_text())
    assert rule["kind"] == "PrometheusRule"
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _groups() for rule in group["rules"]]


def _exported() -> tuple[set[str], set[str]]:
    """The sample names and label names the server's registry exports."""
    names, labels = set(), set()
    metrics = PrometheusMetrics()
    for metric in vars(metrics).values():
        if isinstance(metric, Counter):
            names.add(f"{metric._name}_total")
        elif isinstance(metric, Histogram):
            names |= {f"{metric._name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        elif isinstance(metric, Gauge):
            names.add(metric._name)
        else:
            continue
        labels |= set(metric._labelnames)
    return names, labels


def test_promtool_accepts_the_rules_and_their_templates(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": _groups()}))
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(rules)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_alerts_fire_on_server_errors_and_latency_and_not_on_callers_mistakes(
    tmp_path: Path,
) -> None:
    groups = _groups()
    for rule in (r for group in groups for r in group["rules"]):
        rule.pop("annotations", None)  # their texts are checked above, not compared here
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    result = subprocess.run(
        [tool("promtool"), "test", "rules", UNIT_TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested() -> None:
    tests = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert tested == {rule["alert"] for rule in _rules()}


def test_rules_select_only_metrics_labels_and_codes_the_server_exports() -> None:
    names, labels = _exported()
    for rule in _rules():
        expr = rule["expr"]
        used = set(re.findall(r"\b((?:grpc|textlens)_\w+)\b", expr)) - labels
        assert used <= names, f"{rule['alert']}: {sorted(used - names)} are not exported"
        selected = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", expr))
        grouped = {g.strip() for by in re.findall(r"by \(([^)]*)\)", expr) for g in by.split(",")}
        assert selected | grouped <= labels | TARGET_LABELS, rule["alert"]
        for values in re.findall(r"grpc_code\s*=~?\s*\"([^\"]+)\"", expr):
            assert set(values.split("|")) <= GO_GRPC_CODES, f"{rule['alert']}: {values}"
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert {"summary", "description"} <= set(rule["annotations"])
