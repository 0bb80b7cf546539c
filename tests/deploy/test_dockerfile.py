"""The Dockerfile, read: stages, user, signals, ports, health check, context and base.

`make docker-check` (scripts/docker_check.py) builds and runs it for real; these checks
are the fast ones that run every time.
"""

from __future__ import annotations

import importlib.util
import json
import re
from types import ModuleType
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser
from helpers.deploy import ROOT

from server.config import Settings
from server.transport.grpc_server import TEXTLENS_SERVICES

pytestmark = pytest.mark.deploy

DEFAULT_PORT = Settings.model_fields["port"].default
HEALTH_NAMES = {"", *TEXTLENS_SERVICES}
DOCKER_STOP_TIMEOUT = 10  # seconds docker stop waits before SIGKILL, unless told otherwise
Instruction = dict[str, Any]


@pytest.fixture(scope="module")
def parser() -> DockerfileParser:
    return DockerfileParser(path=str(ROOT / "Dockerfile"))


@pytest.fixture(scope="module")
def stages(parser: DockerfileParser) -> list[list[Instruction]]:
    """Each stage's instructions, FROM first."""
    found: list[list[Instruction]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found and instruction["instruction"] != "COMMENT":
            found[-1].append(instruction)
    return found


@pytest.fixture(scope="module")
def runtime(stages: list[list[Instruction]]) -> list[Instruction]:
    return stages[-1]


def _values(stage: list[Instruction], keyword: str) -> list[str]:
    return [str(i["value"]) for i in stage if i["instruction"] == keyword]


def _docker_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docker_check", ROOT / "scripts" / "docker_check.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wheels_are_built_in_one_stage_and_installed_offline_in_a_slim_one(
    parser: DockerfileParser, stages: list[list[Instruction]], runtime: list[Instruction]
) -> None:
    assert len(stages) >= 2
    assert re.fullmatch(r"python:3\.11-slim-\w+(@sha256:[0-9a-f]{64})?", parser.baseimage)
    runs = " ".join(_values(runtime, "RUN"))
    assert "--no-index" in runs
    assert "textlens-server" in runs
    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang)\b", runs), "compiler in runtime"
    builder_runs = " ".join(v for stage in stages[:-1] for v in _values(stage, "RUN"))
    assert "pip wheel" in builder_runs
    assert "-c constraints.txt" in builder_runs


def test_the_checked_base_is_the_debian_release_the_dockerfile_names(
    parser: DockerfileParser,
) -> None:
    # make docker-check builds on a debootstrap base when the registry is out of reach;
    # it must be the same Debian release, or it checks another image.
    release = parser.baseimage.split("@")[0].rsplit("-", 1)[-1]
    assert _docker_check().BASE_RECIPE["suite"] == release


def test_the_image_runs_as_a_numeric_non_root_user(runtime: list[Instruction]) -> None:
    user = _values(runtime, "USER")[-1]
    uid = user.partition(":")[0]
    assert uid.isdigit(), "a numeric uid lets Kubernetes' runAsNonRoot verify it"
    assert int(uid) != 0


def test_sigterm_reaches_the_server_which_drains_before_docker_kills_it(
    parser: DockerfileParser, runtime: list[Instruction]
) -> None:
    assert _values(runtime, "STOPSIGNAL")[-1] == "SIGTERM"
    assert not _values(runtime, "ENTRYPOINT")
    cmd = _values(runtime, "CMD")[-1]
    assert cmd.startswith("["), "exec form: a shell as PID 1 would not forward SIGTERM"
    assert json.loads(cmd) == ["textlens-server", "serve"]
    assert float(parser.envs["TEXTLENS_SHUTDOWN_GRACE_SECONDS"]) < DOCKER_STOP_TIMEOUT


def test_the_image_holds_no_key_and_never_starts_in_development_mode(
    parser: DockerfileParser, runtime: list[Instruction]
) -> None:
    secret_like = [k for k in parser.envs if re.search(r"SECRET|PASSWORD|TOKEN|_KEY\b", k)]
    assert secret_like == []
    assert "--dev" not in " ".join(_values(runtime, "CMD") + _values(runtime, "ENTRYPOINT"))
    assert "postgresql" not in parser.envs.get("TEXTLENS_DATABASE_URL", "")


def test_the_image_exposes_grpc_and_metrics_and_listens_on_all_interfaces(
    parser: DockerfileParser, runtime: list[Instruction]
) -> None:
    env = parser.envs
    exposed = {p.split("/")[0] for v in _values(runtime, "EXPOSE") for p in v.split()}
    assert {str(DEFAULT_PORT), env["TEXTLENS_METRICS_PORT"]} <= exposed
    assert env["TEXTLENS_HOST"] == "0.0.0.0"
    assert env["TEXTLENS_LOG_FORMAT"] == "json"


def test_the_health_check_is_a_grpc_health_call_on_the_configured_port(
    runtime: list[Instruction],
) -> None:
    (check,) = _values(runtime, "HEALTHCHECK")
    options = dict(re.findall(r"--([a-z-]+)=(\S+)", check))
    command = check.partition("CMD")[2]
    assert re.search(r"\btextlens\b.*\bhealth\b", command)
    service = re.search(r"--service[ =](\S+)", command)
    assert service is not None
    assert service[1] in HEALTH_NAMES
    assert "TEXTLENS_PORT" in command, "the check must follow the configured port"
    assert int(options["timeout"].rstrip("s")) <= int(options["interval"].rstrip("s"))


def test_the_build_context_is_an_allow_list_of_what_the_build_copies(
    stages: list[list[Instruction]],
) -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "everything is left out unless named"
    allowed = {line.removeprefix("!").rstrip("/") for line in lines if line.startswith("!")}
    copied = {
        source.rstrip("/").removeprefix("./")
        for stage in stages
        for value in _values(stage, "COPY")
        if "--from" not in value
        for source in value.split()[:-1]
    }
    assert allowed == copied
    assert all((ROOT / path).exists() for path in allowed)


def test_the_image_check_sees_every_input_of_the_build() -> None:
    makefile = (ROOT / "Makefile").read_text()
    inputs = re.search(r"^DOCKER_CHECK_INPUTS := (.+)$", makefile, re.M)
    assert inputs is not None
    assert set(inputs[1].split()) >= {
        "Dockerfile",
        ".dockerignore",
        "pyproject.toml",
        "client/pyproject.toml",
        "constraints.txt",
        "scripts/docker_check.py",
    }
