"""The Kubernetes tree renders, validates, and agrees with the server and its image."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from helpers.deploy import (
    COMPONENTS,
    KUBERNETES,
    ROOT,
    RenderError,
    Resource,
    container,
    example_secrets,
    kubernetes_tree,
    one,
    pod_spec,
    render,
)
from packaging.version import Version

from server.config import Settings
from server.transport.grpc_server import TEXTLENS_SERVICES

pytestmark = pytest.mark.deploy

DEFAULT_PORT = Settings.model_fields["port"].default
DEFAULT_GRACE = Settings.model_fields["shutdown_grace_seconds"].default
HEALTH_NAMES = {"", *TEXTLENS_SERVICES}  # what the server registers with grpc.health.v1
DIGEST = "sha256:" + "0123456789abcdef" * 4
OLDEST_KUBERNETES = Version("1.29")
# Resources of the Prometheus Operator: kubernetes-validate has no schema for them.
OPERATOR_GROUP = "monitoring.coreos.com/"
# Settings that name a secret's file: the pods get their secrets only as files.
SECRET_FILE_SETTINGS = {"jwt_secret_file", "database_url_file"}


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubernetes")


@pytest.fixture(scope="module")
def secret_files() -> dict[str, str]:
    return example_secrets()


@pytest.fixture(scope="module")
def resources(tmp: Path, secret_files: dict[str, str]) -> list[Resource]:
    """What `kubectl apply -k deploy/kubernetes` applies, once the user made the secrets."""
    return render(kubernetes_tree(tmp / "default", secret_files=secret_files))


@pytest.fixture(scope="module")
def everything(tmp: Path, secret_files: dict[str, str]) -> list[Resource]:
    """A release: every optional component, the image pinned by digest."""
    tree = kubernetes_tree(
        tmp / "all", secret_files=secret_files, components=COMPONENTS, image_digest=DIGEST
    )
    return render(tree)


@pytest.fixture(scope="module")
def deployment(resources: list[Resource]) -> Resource:
    return one(resources, "Deployment")


@pytest.fixture(scope="module")
def server(deployment: Resource) -> dict[str, Any]:
    return container(deployment, "server")


@pytest.fixture(scope="module")
def migrate(deployment: Resource) -> dict[str, Any]:
    return container(deployment, "migrate", init=True)


@pytest.fixture(scope="module")
def config_map(resources: list[Resource]) -> dict[str, str]:
    return dict(one(resources, "ConfigMap")["data"])


def _uid() -> int:
    """The image's user, from the Dockerfile's last USER."""
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    (user,) = [i["value"] for i in parser.structure if i["instruction"] == "USER"][-1:]
    return int(user.partition(":")[0])


def _grace(config_map: dict[str, str]) -> float:
    return float(config_map.get("TEXTLENS_SHUTDOWN_GRACE_SECONDS", DEFAULT_GRACE))


# --- the tree ----------------------------------------------------------------------------


def test_nothing_renders_until_the_user_made_the_secret_files(tmp: Path) -> None:
    with pytest.raises(RenderError, match=r"secrets/(jwt-secret|database-url)"):
        render(kubernetes_tree(tmp / "no-secrets"))


def test_no_secret_is_committed_only_generated_from_the_users_files(
    resources: list[Resource], secret_files: dict[str, str]
) -> None:
    committed = [
        path.relative_to(KUBERNETES)
        for path in KUBERNETES.rglob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "Secret"
    ]
    assert committed == []
    secret = one(resources, "Secret")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == secret_files


def test_every_file_is_listed_by_its_kustomization() -> None:
    for directory in [KUBERNETES, KUBERNETES / "base", *(KUBERNETES / "components").iterdir()]:
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        listed = set(kustomization.get("resources", []))
        present = {p.name for p in directory.glob("*.yaml") if p.name != "kustomization.yaml"}
        subdirectories = {"base"} if directory == KUBERNETES else set()
        assert listed == present | subdirectories, directory.relative_to(ROOT)


def test_every_component_renders_alone_and_adds_what_it_says(
    tmp: Path, secret_files: dict[str, str], resources: list[Resource]
) -> None:
    base_kinds = sorted(r["kind"] for r in resources)
    added = {}
    for name in COMPONENTS:
        rendered = render(
            kubernetes_tree(tmp / f"only-{name}", secret_files=secret_files, components=[name])
        )
        kinds = sorted(r["kind"] for r in rendered)
        for kind in base_kinds:
            kinds.remove(kind)
        added[name] = kinds
        if name == "tracing":
            endpoint = one(rendered, "ConfigMap")["data"]["TEXTLENS_OTLP_ENDPOINT"]
            assert endpoint.startswith("http://") and endpoint.endswith(":4317")
    assert added == {
        "monitoring": ["PodMonitor", "PrometheusRule"],
        "network-policy": ["NetworkPolicy"],
        "tracing": [],
    }


def test_manifests_are_valid_for_every_kubernetes_version_from_1_29(
    everything: list[Resource],
) -> None:
    known = set(kubernetes_validate.utils.all_versions())  # each appears strict and not
    versions = sorted((v for v in known if Version(v) >= OLDEST_KUBERNETES), key=Version)
    assert Version(versions[-1]) >= Version("1.37"), "kubernetes-validate knows no newer one"
    failures = []
    for resource in everything:
        if resource["apiVersion"].startswith(OPERATOR_GROUP):
            continue  # checked by test_alerts and the tests below
        for version in versions:
            try:
                kubernetes_validate.validate(resource, version, strict=True)
            except (
                kubernetes_validate.ValidationError,
                kubernetes_validate.SchemaNotFoundError,
            ) as exc:
                failures.append(f"{resource['kind']} on {version}: {getattr(exc, 'message', exc)}")
    assert failures == []


def test_everything_lives_in_the_namespace_the_tree_creates(everything: list[Resource]) -> None:
    namespace = one(everything, "Namespace")
    name = namespace["metadata"]["name"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for resource in everything:
        if resource["kind"] != "Namespace":
            assert resource["metadata"]["namespace"] == name, resource["kind"]
    for path in KUBERNETES.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "metadata" in doc:
                assert "namespace" not in doc["metadata"], f"{path.name} fixes a namespace"


# --- scaling and migration ---------------------------------------------------------------


def test_the_autoscaler_alone_sets_the_number_of_pods(everything: list[Resource]) -> None:
    autoscalers = [r for r in everything if r["kind"] == "HorizontalPodAutoscaler"]
    assert autoscalers
    for hpa in autoscalers:
        target = hpa["spec"]["scaleTargetRef"]
        workload = one(everything, target["kind"], target["name"])
        assert "replicas" not in workload["spec"], "every apply would reset the autoscaled size"
        assert hpa["spec"]["minReplicas"] >= 2


def test_every_pod_migrates_the_schema_before_its_server_starts(
    everything: list[Resource],
    deployment: Resource,
    server: dict[str, Any],
    migrate: dict[str, Any],
) -> None:
    # Nothing with a fixed name that a new release would have to delete first.
    assert [r for r in everything if r["kind"] in ("Job", "CronJob")] == []
    assert migrate["command"] == ["textlens-server", "migrate"]
    assert migrate["image"] == server["image"]
    assert migrate["envFrom"] == server["envFrom"]
    assert migrate["volumeMounts"] == server["volumeMounts"]
    assert migrate["securityContext"] == server["securityContext"]
    assert {"cpu", "memory"} <= set(migrate["resources"]["limits"])
    strategy = deployment["spec"]["strategy"]
    # One new pod at a time, so one migration at a time, and old pods serve meanwhile.
    assert strategy["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}


def test_autoscaler_and_disruption_budget_govern_the_server_pods(
    resources: list[Resource], deployment: Resource
) -> None:
    hpa = one(resources, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    pdb = one(resources, "PodDisruptionBudget")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


# --- the pod -----------------------------------------------------------------------------


def test_probes_ask_grpc_health_on_the_server_port_for_names_it_registers(
    server: dict[str, Any], config_map: dict[str, str]
) -> None:
    assert int(config_map.get("TEXTLENS_PORT", DEFAULT_PORT)) == DEFAULT_PORT
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    assert ports["grpc"] == DEFAULT_PORT
    probes = {k: v for k, v in server.items() if k.endswith("Probe")}
    assert {"livenessProbe", "readinessProbe"} <= set(probes)
    for kind, probe in probes.items():
        assert probe["grpc"]["port"] == DEFAULT_PORT, kind
        assert probe["grpc"].get("service", "") in HEALTH_NAMES, kind
    # A database outage must take pods out of rotation, never restart them.
    assert probes["livenessProbe"]["grpc"].get("service", "") == ""
    assert probes["readinessProbe"]["grpc"]["service"] in TEXTLENS_SERVICES


def test_termination_grace_covers_the_pre_stop_sleep_and_the_drain(
    deployment: Resource, server: dict[str, Any], config_map: dict[str, str]
) -> None:
    command = server["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    assert pre_stop > 0
    period = pod_spec(deployment)["terminationGracePeriodSeconds"]
    assert period > pre_stop + _grace(config_map)


def test_services_send_grpc_to_the_server_pods(
    resources: list[Resource],
    deployment: Resource,
    server: dict[str, Any],
    config_map: dict[str, str],
) -> None:
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    container_ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    assert container_ports["metrics"] == int(config_map["TEXTLENS_METRICS_PORT"])
    services = [r for r in resources if r["kind"] == "Service"]
    assert {s["spec"].get("clusterIP") for s in services} >= {"None"}, "no headless Service"
    assert any(s["spec"].get("type") == "ClusterIP" for s in services)
    for service in services:
        assert service["spec"]["selector"].items() <= pod_labels.items()
        ports = {p["name"]: p for p in service["spec"]["ports"]}
        grpc = ports["grpc"]
        assert grpc["port"] == DEFAULT_PORT
        assert container_ports[grpc["targetPort"]] == DEFAULT_PORT
        assert grpc["appProtocol"]


def test_pods_run_as_the_image_user_on_a_read_only_root_with_resource_bounds(
    deployment: Resource, server: dict[str, Any]
) -> None:
    pod = pod_spec(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == _uid()
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False, "service links inject TEXTLENS_* variables"
    security = server["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert "/tmp" in {m["mountPath"] for m in server["volumeMounts"]}
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(server["resources"][bound]), bound


def test_images_are_pinned_by_digest_once_the_release_sets_one(
    everything: list[Resource], deployment: Resource
) -> None:
    assert container(deployment, "server")["image"] == "textlens-server:0.1.0"
    pinned = one(everything, "Deployment")
    spec = pod_spec(pinned)
    images = {c["image"] for c in [*spec["containers"], *spec["initContainers"]]}
    assert images == {f"registry.example.com/textlens/textlens-server@{DIGEST}"}


# --- secrets and settings ----------------------------------------------------------------


def _secret_mount(deployment: Resource, container_spec: dict[str, Any]) -> tuple[str, Resource]:
    (volume,) = [v for v in pod_spec(deployment)["volumes"] if "secret" in v]
    (mount,) = [m for m in container_spec["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    return mount["mountPath"], volume["secret"]


def test_secrets_reach_the_containers_as_files_and_nothing_starts_without_them(
    resources: list[Resource],
    deployment: Resource,
    server: dict[str, Any],
    migrate: dict[str, Any],
    config_map: dict[str, str],
) -> None:
    secret = one(resources, "Secret")
    for spec in (server, migrate):
        # Neither environment variables from the Secret nor any inline value.
        assert not any("secretRef" in source for source in spec["envFrom"])
        assert not any("valueFrom" in var or "value" in var for var in spec.get("env", []))
        mount_path, volume = _secret_mount(deployment, spec)
        assert volume["secretName"] == secret["metadata"]["name"]
        assert not volume.get("optional"), "the pod must not start without the Secret"
    files = {k: v for k, v in config_map.items() if k.endswith("_FILE")}
    assert set(files) == {f"TEXTLENS_{name.upper()}" for name in SECRET_FILE_SETTINGS}
    for path in files.values():
        directory, _, key = path.rpartition("/")
        assert directory == mount_path
        assert key in secret["data"]
    assert not {"TEXTLENS_JWT_SECRET", "TEXTLENS_DATABASE_URL"} & set(config_map)


def test_no_otel_collector_is_assumed_without_the_tracing_component(
    config_map: dict[str, str],
) -> None:
    assert not any("OTLP" in key or key.startswith("OTEL_") for key in config_map)


def test_every_textlens_variable_names_a_real_setting(everything: list[Resource]) -> None:
    fields = set(Settings.model_fields)
    data = one(everything, "ConfigMap")["data"]
    unknown = {k for k in data if k.removeprefix("TEXTLENS_").lower() not in fields}
    assert unknown == set()


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("TEXTLENS_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_the_server_accepts_the_deployed_settings_and_reads_the_mounted_secrets(
    resources: list[Resource],
    deployment: Resource,
    server: dict[str, Any],
    config_map: dict[str, str],
    secret_files: dict[str, str],
    clean_environment: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    mount_path, _ = _secret_mount(deployment, server)
    secret = one(resources, "Secret")
    for key, value in secret["data"].items():
        (tmp_path / key).write_bytes(base64.b64decode(value))
    for key, value in config_map.items():
        clean_environment.setenv(key, value.replace(mount_path, str(tmp_path)))
    settings = Settings()
    assert settings.host == "0.0.0.0"
    assert settings.port == DEFAULT_PORT
    assert settings.log_format == "json"
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == secret_files["jwt-secret"].rstrip("\n")
    assert str(settings.database_url) == secret_files["database-url"]


# --- optional components -----------------------------------------------------------------


def test_network_policy_admits_grpc_from_the_cluster_and_metrics_from_monitoring(
    everything: list[Resource],
) -> None:
    policy = one(everything, "NetworkPolicy")
    deployment = one(everything, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    named = {p["name"] for p in container(deployment, "server")["ports"]}
    ingress = {p["port"]: rule["from"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert set(ingress) == {"grpc", "metrics"} <= named
    assert ingress["grpc"] == [{"namespaceSelector": {}}]
    assert ingress["metrics"][0]["namespaceSelector"]["matchLabels"]
    egress = {(p["port"], p["protocol"]) for r in policy["spec"]["egress"] for p in r["ports"]}
    assert {(53, "UDP"), (53, "TCP"), (5432, "TCP"), (6379, "TCP"), (4317, "TCP")} == egress


def test_pod_monitor_scrapes_the_metrics_port_as_the_job_the_alerts_select(
    everything: list[Resource],
) -> None:
    monitor = one(everything, "PodMonitor")
    deployment = one(everything, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in {p["name"] for p in container(deployment, "server")["ports"]}
    assert endpoint["path"] == "/metrics"
    job = labels[monitor["spec"]["jobLabel"]]
    rules = one(everything, "PrometheusRule")["spec"]["groups"]
    expressions = [rule["expr"] for group in rules for rule in group["rules"]]
    assert all(f'job="{job}"' in expr for expr in expressions)


def test_the_base_alone_expects_a_secret_made_elsewhere(tmp: Path) -> None:
    """An overlay on base/ (deploy/README.md) brings its own Secret: the base names it
    and ships none."""
    rendered = render(kubernetes_tree(tmp / "base-only") / "base")
    assert [r for r in rendered if r["kind"] in ("Secret", "Namespace")] == []
    (volume,) = [v for v in pod_spec(one(rendered, "Deployment"))["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == "textlens-secrets"
