"""docker-compose.yml agrees with the server and its image, and holds no default secret."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.deploy import ROOT

from server.config import Settings
from server.transport.grpc_server import TEXTLENS_SERVICES

pytestmark = pytest.mark.deploy

COMPOSE = ROOT / "docker-compose.yml"
HEALTH_NAMES = {"", *TEXTLENS_SERVICES}
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}
INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")
SECRET_WORDS = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL|DATABASE_URL", re.I)
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


@pytest.fixture(scope="module")
def secret_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make compose-secrets` makes, in a directory of the test's own."""
    directory = tmp_path_factory.mktemp("compose") / "secrets"
    subprocess.run(
        [str(ROOT / "scripts" / "compose-secrets.sh"), str(directory)], check=True, timeout=60
    )
    return directory


def _environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.partition("=")[::2] for item in raw)
    return {key: str(value) for key, value in raw.items()}


def _seconds(duration: str) -> float:
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[unit] for n, unit in DURATION.findall(duration))


def _mounted_secrets(compose: dict[str, Any], service: dict[str, Any]) -> dict[str, Path]:
    """Where the service sees each of its secrets, and the host file behind it."""
    mounted = {}
    for entry in service.get("secrets", []):
        source = entry if isinstance(entry, str) else entry["source"]
        target = source if isinstance(entry, str) else entry.get("target", source)
        path = target if target.startswith("/") else f"/run/secrets/{target}"
        mounted[path] = ROOT / compose["secrets"][source]["file"]
    return mounted


# --- secrets -----------------------------------------------------------------------------


def test_no_secret_has_a_default_value() -> None:
    for match in INTERPOLATION.finditer(COMPOSE.read_text()):
        name, operator = match[1], match[2]
        assert operator not in ("-", ":-"), f"${{{name}}} has a default: {match[0]}"
        if SECRET_WORDS.search(name):
            assert operator in ("?", ":?"), f"{match[0]} must fail when unset"


def test_keys_and_passwords_come_from_git_ignored_secret_files(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    files = [ROOT / secret["file"] for secret in compose["secrets"].values()]
    assert files
    ignored = subprocess.run(
        ["git", "check-ignore", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert sorted(ignored) == sorted(map(str, files)), "secret files must never be committed"
    for name, service in services.items():
        for key, value in _environment(service).items():
            if SECRET_WORDS.search(key) and not key.endswith("_FILE"):
                pytest.fail(f"{name}: {key} is set inline; mount it as a secret file")
            if key.endswith("_FILE") and SECRET_WORDS.search(key):
                assert value in _mounted_secrets(compose, service), f"{name}: {key}={value}"


def test_the_servers_and_the_migration_read_key_and_database_from_files(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name in ("server", "migrate"):
        env = _environment(services[name])
        mounted = _mounted_secrets(compose, services[name])
        assert mounted[env["TEXTLENS_JWT_SECRET_FILE"]].name == "jwt-secret"
        assert mounted[env["TEXTLENS_DATABASE_URL_FILE"]].name == "database-url"
    postgres = services["postgres"]
    password_file = _environment(postgres)["POSTGRES_PASSWORD_FILE"]
    assert _mounted_secrets(compose, postgres)[password_file].name == "postgres-password"


def test_compose_secrets_script_makes_strong_files_the_server_can_read(
    secret_dir: Path, services: dict[str, dict[str, Any]]
) -> None:
    assert stat.S_IMODE(secret_dir.stat().st_mode) == 0o700
    for path in secret_dir.iterdir():
        # Compose keeps the host file's mode, and the server runs as uid 10001.
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name
    assert len((secret_dir / "jwt-secret").read_bytes()) >= 32
    password = (secret_dir / "postgres-password").read_text()
    url = (secret_dir / "database-url").read_text()
    assert re.fullmatch(r"[0-9a-f]{48}", password)
    match = re.fullmatch(r"postgresql\+asyncpg://textlens:(\w+)@(\w+):5432/textlens", url)
    assert match is not None
    assert match[1] == password
    assert match[2] in services["server"]["depends_on"]


def test_compose_secrets_script_never_overwrites(secret_dir: Path) -> None:
    before = {p.name: p.read_text() for p in secret_dir.iterdir()}
    subprocess.run(
        [str(ROOT / "scripts" / "compose-secrets.sh"), str(secret_dir)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert {p.name: p.read_text() for p in secret_dir.iterdir()} == before


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("TEXTLENS_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_the_server_accepts_the_compose_settings_and_secret_files(
    compose: dict[str, Any],
    services: dict[str, dict[str, Any]],
    secret_dir: Path,
    clean_environment: pytest.MonkeyPatch,
) -> None:
    server = services["server"]
    mounted = _mounted_secrets(compose, server)
    for key, value in _environment(server).items():
        # Each mounted secret is read from the file compose-secrets.sh made.
        path = mounted.get(value)
        clean_environment.setenv(key, str(secret_dir / path.name) if path else value)
    settings = Settings()
    assert settings.host == "0.0.0.0"
    assert settings.log_format == "json"
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == (secret_dir / "jwt-secret").read_text()
    assert str(settings.database_url) == (secret_dir / "database-url").read_text()


def test_every_textlens_variable_names_a_real_setting(
    services: dict[str, dict[str, Any]],
) -> None:
    fields = set(Settings.model_fields)
    unknown = {
        key
        for service in services.values()
        for key in _environment(service)
        if key.startswith("TEXTLENS_") and key.removeprefix("TEXTLENS_").lower() not in fields
    }
    assert unknown == set()


# --- services ----------------------------------------------------------------------------


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
    assert int(target.rpartition(":")[2]) == int(_environment(server)["TEXTLENS_PORT"])
    assert test[test.index("--service") + 1] in HEALTH_NAMES


def test_compose_waits_longer_than_the_server_drains(
    services: dict[str, dict[str, Any]],
) -> None:
    server = services["server"]
    grace = float(_environment(server)["TEXTLENS_SHUTDOWN_GRACE_SECONDS"])
    assert _seconds(server["stop_grace_period"]) > grace


def test_compose_migrates_before_any_server_starts(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["command"] == ["textlens-server", "migrate"]
    assert services["migrate"]["image"] == services["server"]["image"]
    assert services["server"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }


def test_compose_wires_the_server_to_postgres_redis_and_a_trace_collector(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    env = _environment(services["server"])
    assert services["postgres"]["image"] == "postgres:15"
    volume = services["postgres"]["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "PostgreSQL data must be on a named volume"
    assert services["redis"]["image"].startswith("redis:7")
    for key in ("TEXTLENS_REDIS_URL", "TEXTLENS_OTLP_ENDPOINT"):
        host = re.sub(r"^\w[\w+]*://([^@/]*@)?", "", env[key]).split(":")[0]
        assert host in services, f"{key} points at {host}, not a compose service"
        assert host in services["server"]["depends_on"], f"server does not wait for {host}"
