"""The deployment files agree with the server: ports, health names, settings, stop timing."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from server.config import Settings
from server.transport.grpc_server import TEXTLENS_SERVICES

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
DEFAULT_PORT = Settings.model_fields["port"].default
DEFAULT_GRACE = Settings.model_fields["shutdown_grace_seconds"].default
HEALTH_NAMES = {"", *TEXTLENS_SERVICES}  # what the server registers with grpc.health.v1
DOCKER_STOP_TIMEOUT = 10  # seconds docker stop waits before SIGKILL, unless told otherwise
_COMPOSE_DEFAULT = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_dockerfile", ROOT / "scripts" / "check_dockerfile.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


checker = _load_checker()


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


@pytest.fixture(scope="module")
def manifests() -> dict[Path, list[dict[str, Any]]]:
    return {
        path: [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        for path in sorted(KUBERNETES.glob("*.yaml"))
    }


@pytest.fixture(scope="module")
def resources(manifests: dict[Path, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        doc for path, docs in manifests.items() if path.name != "kustomization.yaml" for doc in docs
    ]


def _one(resources: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in resources if r["kind"] == kind and name in (None, r["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def deployment(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return _one(resources, "Deployment")


@pytest.fixture(scope="module")
def server_container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


@pytest.fixture(scope="module")
def config_map(resources: list[dict[str, Any]]) -> dict[str, str]:
    return dict(_one(resources, "ConfigMap")["data"])


@pytest.fixture(scope="module")
def secret(resources: list[dict[str, Any]]) -> dict[str, str]:
    return dict(_one(resources, "Secret")["stringData"])


@pytest.fixture(scope="module")
def dockerfile() -> Any:
    return checker.parse((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def runtime(dockerfile: Any) -> Any:
    return dockerfile.final()


def _values(stage: Any, keyword: str) -> list[str]:
    return [i.value for i in stage.instructions if i.keyword == keyword]


def _image_env(stage: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in _values(stage, "ENV"):
        env.update(checker.env_pairs(value))
    return env


def _compose_env(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment with ${VAR:-default} resolved to its default."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.partition("=")[::2] for item in raw)
    return {k: _COMPOSE_DEFAULT.sub(lambda m: m[2] or "", str(v)) for k, v in raw.items()}


def _grace(config_map: dict[str, str]) -> float:
    return float(config_map.get("TEXTLENS_SHUTDOWN_GRACE_SECONDS", DEFAULT_GRACE))


def _setting_sources(
    services: dict[str, dict[str, Any]],
    config_map: dict[str, str],
    secret: dict[str, str],
    runtime: Any,
) -> dict[str, dict[str, str]]:
    sources = {f"compose {name}": _compose_env(s) for name, s in services.items()}
    sources.update({"ConfigMap": config_map, "Secret": secret, "Dockerfile": _image_env(runtime)})
    return sources


# --- settings ----------------------------------------------------------------------------


def test_every_textlens_variable_names_a_real_setting(
    services: dict[str, dict[str, Any]],
    config_map: dict[str, str],
    secret: dict[str, str],
    runtime: Any,
) -> None:
    fields = set(Settings.model_fields)
    unknown = {
        f"{source}: {key}"
        for source, env in _setting_sources(services, config_map, secret, runtime).items()
        for key in env
        if key.startswith("TEXTLENS_") and key.removeprefix("TEXTLENS_").lower() not in fields
    }
    assert not unknown, f"not settings of server.config.Settings: {sorted(unknown)}"


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("TEXTLENS_"):
            monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize("source", ["compose server", "ConfigMap+Secret", "Dockerfile"])
def test_deployed_settings_are_values_the_server_accepts(
    source: str,
    services: dict[str, dict[str, Any]],
    config_map: dict[str, str],
    secret: dict[str, str],
    runtime: Any,
    clean_environment: pytest.MonkeyPatch,
) -> None:
    env = {
        "compose server": _compose_env(services["server"]),
        "ConfigMap+Secret": {**config_map, **secret},
        "Dockerfile": _image_env(runtime),
    }[source]
    for key, value in env.items():
        if key.startswith("TEXTLENS_"):
            clean_environment.setenv(key, value)
    settings = Settings()
    assert settings.host == "0.0.0.0"
    assert settings.port == DEFAULT_PORT
    assert settings.log_format == "json"


# --- Dockerfile --------------------------------------------------------------------------


def test_dockerfile_builds_wheels_in_one_stage_and_installs_them_offline_in_a_slim_one(
    dockerfile: Any, runtime: Any
) -> None:
    assert len(dockerfile.stages) >= 2
    assert runtime.image == "python:3.11-slim"
    runs = " ".join(_values(runtime, "RUN"))
    assert "--no-index" in runs
    assert "textlens-server" in runs
    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang)\b", runs), "compiler in runtime"
    builder_runs = " ".join(v for s in dockerfile.stages[:-1] for v in _values(s, "RUN"))
    assert "pip wheel" in builder_runs
    assert "-c constraints.txt" in builder_runs


def test_dockerfile_runs_as_a_numeric_non_root_user(runtime: Any) -> None:
    user = _values(runtime, "USER")[-1]
    uid = user.partition(":")[0]
    assert uid.isdigit(), "a numeric uid lets Kubernetes' runAsNonRoot verify it"
    assert int(uid) != 0


def test_dockerfile_stops_with_sigterm_reaching_the_server_directly(runtime: Any) -> None:
    assert _values(runtime, "STOPSIGNAL")[-1] == "SIGTERM"
    assert not _values(runtime, "ENTRYPOINT")
    cmd = _values(runtime, "CMD")[-1]
    assert cmd.startswith("["), "exec form: a shell as PID 1 would not forward SIGTERM"
    assert checker.command_argv(cmd) == ["textlens-server", "serve"]
    grace = float(_image_env(runtime)["TEXTLENS_SHUTDOWN_GRACE_SECONDS"])
    assert grace < DOCKER_STOP_TIMEOUT


def test_dockerfile_exposes_grpc_and_metrics_and_listens_on_all_interfaces(runtime: Any) -> None:
    env = _image_env(runtime)
    exposed = {p.split("/")[0] for v in _values(runtime, "EXPOSE") for p in v.split()}
    assert {str(DEFAULT_PORT), env["TEXTLENS_METRICS_PORT"]} <= exposed
    assert env["TEXTLENS_HOST"] == "0.0.0.0"
    assert env["TEXTLENS_LOG_FORMAT"] == "json"


def test_dockerfile_health_check_is_a_grpc_health_call(runtime: Any) -> None:
    check = checker.health_check(runtime)
    assert check is not None, "no HEALTHCHECK"
    timings, argv = check
    command = " ".join(argv)
    assert re.search(r"\btextlens\b.*\bhealth\b", command)
    service = re.search(r"--service[ =](\S+)", command)
    assert service is not None and service[1] in HEALTH_NAMES
    assert "TEXTLENS_PORT" in command, "the check must follow the configured port"
    assert timings["timeout"] <= timings["interval"]


def test_dockerignore_sends_the_sources_and_nothing_local() -> None:
    ignore = checker.DockerIgnore((ROOT / ".dockerignore").read_text())
    for sent in ("pyproject.toml", "constraints.txt", "server/app.py", "client/pyproject.toml"):
        assert not ignore.excluded(sent), sent
    for kept_out in (
        ".venv/bin/python",
        ".git/config",
        "textlens.db",
        "client/textlens/__pycache__/_cli.cpython-311.pyc",
        "textlens_server.egg-info/PKG-INFO",
        "tests/conftest.py",
    ):
        assert ignore.excluded(kept_out), kept_out


# --- docker-compose.yml ------------------------------------------------------------------


def test_compose_runs_two_server_replicas_without_a_fixed_host_port(
    services: dict[str, dict[str, Any]],
) -> None:
    server = services["server"]
    assert server["deploy"]["replicas"] == 2
    for port in server.get("ports", []):
        parts = str(port).split(":")
        assert len(parts) == 1 or not parts[-2], f"{port}: replicas would collide on it"


def test_every_compose_dependency_waits_on_a_condition(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on without conditions"
        for target, options in depends_on.items():
            condition = options.get("condition")
            if condition == "service_healthy":
                assert not services[target]["healthcheck"].get("disable"), target
            else:
                assert condition == "service_completed_successfully", f"{name} -> {target}"
                assert services[target]["restart"] == "no", f"{target} must be one-shot"


def test_every_long_running_compose_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if service.get("restart") == "no":
            continue
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_compose_server_health_check_asks_grpc_health_on_the_server_port(
    services: dict[str, dict[str, Any]],
) -> None:
    server = services["server"]
    test = server["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert test[1] == "textlens"
    assert "health" in test
    target = test[test.index("--target") + 1]
    assert int(target.rpartition(":")[2]) == int(_compose_env(server)["TEXTLENS_PORT"])
    assert test[test.index("--service") + 1] in HEALTH_NAMES


def test_compose_waits_longer_than_the_server_drains(
    services: dict[str, dict[str, Any]],
) -> None:
    server = services["server"]
    grace = float(_compose_env(server)["TEXTLENS_SHUTDOWN_GRACE_SECONDS"])
    assert checker.seconds(server["stop_grace_period"]) > grace


def test_compose_migrates_before_any_server_starts(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["command"] == ["textlens-server", "migrate"]
    assert services["migrate"]["image"] == services["server"]["image"]
    assert services["server"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }


def test_compose_wires_the_server_to_postgres_redis_and_a_trace_collector(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    env = _compose_env(services["server"])
    assert services["postgres"]["image"] == "postgres:15"
    volume = services["postgres"]["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "PostgreSQL data must be on a named volume"
    assert services["redis"]["image"].startswith("redis:7")
    assert env["TEXTLENS_DATABASE_URL"].startswith("postgresql+asyncpg://")
    for key in ("TEXTLENS_DATABASE_URL", "TEXTLENS_REDIS_URL", "TEXTLENS_OTLP_ENDPOINT"):
        host = re.sub(r"^\w[\w+]*://([^@/]*@)?", "", env[key]).split(":")[0]
        assert host in services, f"{key} points at {host}, not a compose service"
        assert host in services["server"]["depends_on"], f"server does not wait for {host}"


# --- Kubernetes --------------------------------------------------------------------------


def test_every_manifest_parses_and_the_kustomization_lists_them_all(
    manifests: dict[Path, list[dict[str, Any]]],
) -> None:
    (kustomization,) = manifests[KUBERNETES / "kustomization.yaml"]
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in manifests if p.name != "kustomization.yaml"}
    for path, docs in manifests.items():
        assert docs, f"{path.name} is empty"
        for doc in docs:
            assert doc["apiVersion"] and doc["kind"], path.name
            if path.name != "kustomization.yaml":
                assert doc["metadata"]["name"], path.name
                assert "namespace" not in doc["metadata"], f"{path.name} fixes a namespace"


def test_probes_ask_grpc_health_on_the_server_port_for_names_it_registers(
    server_container: dict[str, Any], config_map: dict[str, str]
) -> None:
    assert int(config_map.get("TEXTLENS_PORT", DEFAULT_PORT)) == DEFAULT_PORT
    ports = {p["name"]: p["containerPort"] for p in server_container["ports"]}
    assert ports["grpc"] == DEFAULT_PORT
    probes = {k: v for k, v in server_container.items() if k.endswith("Probe")}
    assert {"livenessProbe", "readinessProbe"} <= set(probes)
    for kind, probe in probes.items():
        assert probe["grpc"]["port"] == DEFAULT_PORT, kind
        assert probe["grpc"].get("service", "") in HEALTH_NAMES, kind
    # A database outage must take pods out of rotation, never restart them.
    assert probes["livenessProbe"]["grpc"].get("service", "") == ""
    assert probes["readinessProbe"]["grpc"]["service"] in TEXTLENS_SERVICES


def test_termination_grace_covers_the_pre_stop_sleep_and_the_drain(
    deployment: dict[str, Any], server_container: dict[str, Any], config_map: dict[str, str]
) -> None:
    command = server_container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    assert pre_stop > 0
    period = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert period > pre_stop + _grace(config_map)


def test_services_send_grpc_to_the_server_pods(
    resources: list[dict[str, Any]],
    deployment: dict[str, Any],
    server_container: dict[str, Any],
    config_map: dict[str, str],
) -> None:
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    container_ports = {p["name"]: p["containerPort"] for p in server_container["ports"]}
    assert container_ports["metrics"] == int(config_map["TEXTLENS_METRICS_PORT"])
    k8s_services = [r for r in resources if r["kind"] == "Service"]
    assert {s["spec"].get("clusterIP") for s in k8s_services} >= {"None"}, "no headless Service"
    assert any(s["spec"].get("type") == "ClusterIP" for s in k8s_services)
    for service in k8s_services:
        assert service["spec"]["selector"].items() <= pod_labels.items()
        ports = {p["name"]: p for p in service["spec"]["ports"]}
        grpc = ports["grpc"]
        assert grpc["port"] == DEFAULT_PORT
        assert container_ports[grpc["targetPort"]] == DEFAULT_PORT
        assert grpc["appProtocol"]


def test_pods_run_as_the_image_user_on_a_read_only_root_with_resource_bounds(
    deployment: dict[str, Any], server_container: dict[str, Any], runtime: Any
) -> None:
    pod = deployment["spec"]["template"]["spec"]
    image_uid = int(_values(runtime, "USER")[-1].partition(":")[0])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == image_uid
    assert pod["enableServiceLinks"] is False, "service links inject TEXTLENS_* variables"
    security = server_container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert "/tmp" in {m["mountPath"] for m in server_container["volumeMounts"]}
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(server_container["resources"][bound]), bound


def test_server_and_migration_take_settings_from_the_configmap_and_secret(
    resources: list[dict[str, Any]], server_container: dict[str, Any]
) -> None:
    names = {
        "configMapRef": _one(resources, "ConfigMap")["metadata"]["name"],
        "secretRef": _one(resources, "Secret")["metadata"]["name"],
    }
    (job_container,) = _one(resources, "Job")["spec"]["template"]["spec"]["containers"]
    for container in (server_container, job_container):
        refs = {k: v["name"] for source in container["envFrom"] for k, v in source.items()}
        assert refs == names, container["name"]
    assert job_container["command"] == ["textlens-server", "migrate"]
    assert job_container["image"] == server_container["image"]


def test_secret_holds_only_marked_placeholders(secret: dict[str, str]) -> None:
    assert secret, "the Secret is empty"
    for key, value in secret.items():
        assert "REPLACE_ME" in value, f"{key} looks like a real secret"


def test_autoscaler_and_disruption_budget_govern_the_server_pods(
    resources: list[dict[str, Any]], deployment: dict[str, Any]
) -> None:
    hpa = _one(resources, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert deployment["spec"]["replicas"] == hpa["spec"]["minReplicas"] == 3
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    pdb = _one(resources, "PodDisruptionBudget")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    job_labels = _one(resources, "Job")["spec"]["template"]["metadata"]["labels"]
    assert not pdb["spec"]["selector"]["matchLabels"].items() <= job_labels.items()


# --- the Dockerfile's steps, run ---------------------------------------------------------


@pytest.mark.slow
def test_dockerfile_steps_install_start_pass_their_health_check_and_stop_cleanly() -> None:
    """scripts/check_dockerfile.py (make docker-check): wheels, --no-index install, migrate,
    CMD with the image's ENV, HEALTHCHECK, SIGTERM -> exit 0. About 75 s, mostly pip."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_dockerfile.py")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "docker-check passed" in result.stdout
