"""The contract's files: ours in proto/, googleapis' unchanged in third_party, usable by buf."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from google.rpc import status_pb2

ROOT = Path(__file__).resolve().parents[2]
BUF = Path(sys.executable).parent / "buf"
GOOGLEAPIS = ROOT / "third_party" / "googleapis"
# googleapis-common-protos installs the .proto sources beside its Python modules.
INSTALLED_GOOGLE = Path(status_pb2.__file__).resolve().parents[1]


def test_the_contract_module_holds_only_textlens_files() -> None:
    files = {p.relative_to(ROOT / "proto").as_posix() for p in (ROOT / "proto").rglob("*.proto")}
    assert files
    assert all(name.startswith("textlens/v1/") for name in files), files


def test_third_party_googleapis_files_are_unchanged_copies() -> None:
    copies = sorted(GOOGLEAPIS.rglob("*.proto"))
    names = {p.relative_to(GOOGLEAPIS).as_posix() for p in copies}
    assert {"google/rpc/status.proto", "google/rpc/error_details.proto"} <= names
    for copy in copies:
        original = INSTALLED_GOOGLE.parent / copy.relative_to(GOOGLEAPIS)
        assert copy.read_bytes() == original.read_bytes(), f"{copy} differs: make googleapis"
    assert "Apache License" in (GOOGLEAPIS / "LICENSE").read_text()


def test_a_buf_workspace_with_all_of_googleapis_builds_the_contract(tmp_path: Path) -> None:
    """What a buf user does: our proto/ module beside googleapis (here every googleapis
    file googleapis-common-protos ships, standing in for buf.build/googleapis/googleapis,
    which this machine cannot reach). No file is in two modules."""
    shutil.copytree(ROOT / "proto", tmp_path / "textlens")
    googleapis = tmp_path / "googleapis" / "google"
    shutil.copytree(INSTALLED_GOOGLE, googleapis, ignore=shutil.ignore_patterns("*.py*", "__*"))
    assert (googleapis / "api" / "annotations.proto").exists()
    (tmp_path / "buf.yaml").write_text(
        "version: v2\nmodules:\n  - path: textlens\n  - path: googleapis\n"
    )
    result = subprocess.run(
        [str(BUF), "build", "textlens", "-o", "-#format=json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    files = {f["name"] for f in json.loads(result.stdout)["file"]}
    assert {"textlens/v1/analysis_service.proto", "google/rpc/status.proto"} <= files
