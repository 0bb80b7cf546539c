"""checkov finds nothing in the Dockerfile or in a release's manifests but what is justified."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers.deploy import COMPONENTS, ROOT, example_secrets, kubernetes_tree, tool

pytestmark = pytest.mark.deploy

CONFIG = ROOT / "deploy" / "checkov.yaml"
README = ROOT / "deploy" / "README.md"


def test_checkov_passes_on_the_dockerfile_and_a_release(tmp_path: Path) -> None:
    checkov = tool("checkov")
    tree = kubernetes_tree(
        tmp_path,
        secret_files=example_secrets(),
        components=COMPONENTS,
        image_digest="sha256:" + "0123456789abcdef" * 4,
    )
    rendered = tmp_path / "release.yaml"
    rendered.write_text(
        subprocess.run(
            [tool("kubectl"), "kustomize", str(tree)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    )
    result = subprocess.run(
        [
            checkov,
            "--config-file",
            str(CONFIG),
            "-f",
            str(rendered),
            "-f",
            str(ROOT / "Dockerfile"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = [int(n) for n in re.findall(r"Passed checks: (\d+)", output)]
    assert len(passed) == 2, output  # both frameworks ran
    assert all(passed), output


def test_every_skipped_check_is_justified_in_the_deploy_readme() -> None:
    skipped = yaml.safe_load(CONFIG.read_text())["skip-check"]
    readme = README.read_text()
    for check in skipped:
        row = re.search(rf"^\| `{check}` \|([^|]+)\|([^|]+)\|", readme, re.M)
        assert row is not None, f"{check} has no row in deploy/README.md"
        assert len(row[2].split()) >= 8, f"{check}: say why it does not apply"
