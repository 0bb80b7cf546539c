"""Finds the deploy tools (kubectl, promtool, checkov) and renders the Kubernetes tree."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
COMPONENTS = sorted(p.name for p in (KUBERNETES / "components").iterdir() if p.is_dir())
# Where `make deploy-tools` puts promtool and checkov (the Makefile passes it on).
TOOLS_BIN = Path(
    os.environ.get("DEPLOY_TOOLS")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "textlens/tools/bin"
)
INSTALL_HINTS = {
    "kubectl": "install kubectl; Debian has no package for it",
    "promtool": "make deploy-tools",
    "checkov": "make deploy-tools",
}
Resource = dict[str, Any]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def tool(name: str) -> str:
    """The tool's path; a missing tool skips the test, except under CI where it fails."""
    found = shutil.which(name, path=os.pathsep.join([str(TOOLS_BIN), os.environ.get("PATH", "")]))
    if found is not None:
        return found
    message = f"{name} is not installed ({INSTALL_HINTS[name]})"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def example_secrets() -> dict[str, str]:
    """What a user puts in deploy/kubernetes/secrets/: random, as the docs say to make them."""
    password = secrets.token_hex(16)
    return {
        "jwt-secret": secrets.token_urlsafe(32) + "\n",  # as `openssl rand` writes it
        "database-url": f"postgresql+asyncpg://textlens:{password}@postgres:5432/textlens",
    }


def kubernetes_tree(
    destination: Path,
    *,
    secret_files: dict[str, str] | None = None,
    components: Sequence[str] = (),
    image_digest: str | None = None,
) -> Path:
    """A copy of deploy/kubernetes as a clean clone has it (no secrets/), with the secret
    files a user would create, the optional components, and the image pinned by digest."""
    tree = destination / "kubernetes"
    shutil.copytree(KUBERNETES, tree, ignore=shutil.ignore_patterns("secrets"))
    if secret_files is not None:
        (tree / "secrets").mkdir()
        for name, value in secret_files.items():
            (tree / "secrets" / name).write_text(value)
    kustomization = yaml.safe_load((tree / "kustomization.yaml").read_text())
    if components:
        kustomization["components"] = [f"components/{name}" for name in components]
    if image_digest is not None:
        for image in kustomization["images"]:
            image.pop("newTag", None)
            image["newName"] = f"registry.example.com/textlens/{image['name']}"
            image["digest"] = image_digest
    (tree / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return tree


class RenderError(Exception):
    """kubectl kustomize refused the tree; the message is its error output."""


def render(tree: Path) -> list[Resource]:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(tree)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RenderError(result.stderr)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(resources: list[Resource], kind: str, name: str | None = None) -> Resource:
    found = [r for r in resources if r["kind"] == kind and name in (None, r["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_spec(workload: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(workload: Resource, name: str, *, init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    (found,) = [c for c in pod_spec(workload).get(key, []) if c["name"] == name]
    return dict(found)
