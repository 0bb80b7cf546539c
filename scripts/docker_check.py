#!/usr/bin/env python3
"""Builds the real Dockerfile with buildah and runs the image: user, CMD, HEALTHCHECK, drain.

    sudo scripts/docker_check.py        (make docker-check)

1. The base for the Dockerfile's PYTHON_IMAGE: pulled when the registry answers,
   otherwise Debian bookworm with its Python 3.11 made by debootstrap, kept as a tarball
   under ~/.cache/textlens/docker-check/ and keyed by its recipe.
2. The Dockerfile, built by buildah with chroot isolation (no OCI runtime or daemon).
3. The build context that .dockerignore lets through: the sources and nothing local.
4. The image run from its own filesystem by `buildah run` on the host's network, as
   Docker would run it: `migrate`; CMD as the image's USER with a real key (and, where
   the server has a development mode, no start at all without one); HEALTHCHECK until
   healthy; one analysis through the image's own CLI; /metrics; SIGTERM, after which it
   must drain and exit 0 (a warning past docker stop's 10 s); and the HEALTHCHECK
   failing once it is gone.

Prints the build time, the image and venv sizes. Needs root, buildah and (for a base
made here) debootstrap: `make docker-check` installs both from Debian's packages.
Environment: DOCKER_CHECK_CACHE (the cache directory), DOCKER_CHECK_STORAGE_DRIVER
(overlay, or vfs where overlay cannot mount), DEBIAN_MIRROR.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = (
    Path(
        os.environ.get("DOCKER_CHECK_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "textlens"
    )
    / "docker-check"
)
STORAGE_DRIVER = os.environ.get("DOCKER_CHECK_STORAGE_DRIVER", "overlay")
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What python:3.11-slim-bookworm offers the Dockerfile: `python` with pip and venv.
BASE_RECIPE = {
    "suite": "bookworm",
    "variant": "minbase",
    "include": ["python3", "python3-pip", "python3-venv", "python-is-python3", "ca-certificates"],
    "trim": ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"],
    "env": ["LANG=C.UTF-8", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
}
# One tag per run, removed at its end, so that checks running side by side (several
# clones on one machine) never test each other's image.
IMAGE = f"localhost/textlens-server:docker-check-{os.getpid()}"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DOCKER_STOP_TIMEOUT = 10.0  # seconds `docker stop` waits before SIGKILL
# A server that has not exited by then hangs: its own supervisor kills its processes after
# the drain grace plus 10 s. Between the two, the check warns: on a loaded machine a
# process can take seconds to tear down after it has drained.
HANG_TIMEOUT = 30.0
CONTEXT_ALLOWED = {"pyproject.toml", "README.md", "constraints.txt", "client", "server"}
CONTEXT_DEBRIS = re.compile(r"(^|/)(__pycache__|build|dist|[^/]*\.egg-info|\.mypy_cache)(/|$)|\.db")


class CheckFailed(Exception):
    """One step of the check failed; the message says which and why."""


def say(message: str) -> None:
    print(f"docker-check: {message}", flush=True)


def run(
    argv: Sequence[str], *, timeout: float = 600, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"{' '.join(argv[:4])} ... took over {timeout:.0f} s") from exc
    if check and result.returncode != 0:
        tail = (result.stdout + result.stderr)[-3000:]
        raise CheckFailed(f"{' '.join(argv[:6])} ... exited {result.returncode}:\n{tail}")
    return result


class Buildah:
    """buildah with this check's own storage, so it touches no other image store."""

    def __init__(self) -> None:
        self.base = [
            "buildah",
            "--root",
            str(CACHE / "storage"),
            "--runroot",
            str(CACHE / "run"),
            "--storage-driver",
            STORAGE_DRIVER,
        ]

    def __call__(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run([*self.base, *args], **kwargs)

    def has_image(self, name: str) -> bool:
        return self("inspect", "--type", "image", name, check=False).returncode == 0

    def image_config(self, name: str) -> dict[str, Any]:
        config: dict[str, Any] = json.loads(self("inspect", "--type", "image", name).stdout)
        return dict(config["Docker"]["config"])

    @contextlib.contextmanager
    def container(self, image: str) -> Iterator[str]:
        name = f"textlens-docker-check-{os.getpid()}"
        self("rm", name, check=False)
        self("from", "--name", name, "--pull=never", image)
        try:
            yield name
        finally:
            self("rm", name, check=False)

    def run_argv(self, container: str, env: dict[str, str], argv: Sequence[str]) -> list[str]:
        flags = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
        return [*self.base, "run", "--isolation", "chroot", *flags, container, "--", *argv]


# --- 1. the base -------------------------------------------------------------------------


def dockerfile_base() -> str:
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    if match is None:
        raise CheckFailed("the Dockerfile has no ARG PYTHON_IMAGE=... default")
    return match[1]


def qualified(name: str) -> str:
    """Docker's reading of a short image name (python:3.11 is docker.io/library/python:3.11)."""
    first, _, rest = name.partition("/")
    if not rest:
        return f"docker.io/library/{name}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{name}"
    return name


def base_image(buildah: Buildah) -> tuple[str, str]:
    """The image to build on, and where it came from."""
    wanted = qualified(dockerfile_base())
    pulled = buildah("pull", "--quiet", "--retry", "0", wanted, check=False, timeout=300)
    if pulled.returncode == 0:
        return wanted, "pulled from its registry"
    key = hashlib.sha256(json.dumps([BASE_RECIPE, MIRROR], sort_keys=True).encode()).hexdigest()
    tag = f"localhost/textlens-base:{BASE_RECIPE['suite']}-python3-{key[:12]}"
    if buildah.has_image(tag):
        return tag, f"{wanted} unreachable; debootstrap base, cached"
    tarball = CACHE / f"base-{key[:12]}.tar"
    if not tarball.exists():
        say(f"{wanted} cannot be pulled: making a Debian {BASE_RECIPE['suite']} base")
        debootstrap(tarball)
    container = buildah("from", "scratch").stdout.strip()
    try:
        buildah("add", container, str(tarball), "/")
        env = [arg for pair in BASE_RECIPE["env"] for arg in ("--env", pair)]
        buildah("config", *env, "--cmd", "python3", container)
        buildah("commit", "--quiet", container, tag)
    finally:
        buildah("rm", container, check=False)
    return tag, f"{wanted} unreachable; debootstrap base"


def debootstrap(tarball: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise CheckFailed("debootstrap is missing (apt-get install -y debootstrap)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="rootfs-") as rootfs:
        run(
            [
                "debootstrap",
                f"--variant={BASE_RECIPE['variant']}",
                f"--include={','.join(BASE_RECIPE['include'])}",
                BASE_RECIPE["suite"],
                rootfs,
                MIRROR,
            ],
            timeout=1800,
        )
        for path in BASE_RECIPE["trim"]:
            for child in (Path(rootfs) / path).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        partial = tarball.with_suffix(".partial")
        run(["tar", "--numeric-owner", "-C", rootfs, "-cf", str(partial), "."])
        partial.rename(tarball)
    say(f"debootstrap base made in {time.monotonic() - started:.0f} s: {tarball}")


# --- 2. the build ------------------------------------------------------------------------


def build(buildah: Buildah, base: str) -> float:
    argv = [
        "bud",
        "--isolation",
        "chroot",
        "--pull=never",  # the base is in this storage already, pulled or made
        # Docker's format keeps HEALTHCHECK, which the OCI image format has no field for.
        "--format",
        "docker",
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        "--tag",
        IMAGE,
        "--file",
        str(ROOT / "Dockerfile"),
    ]
    if HOST_CA_BUNDLE.exists():
        # pip in the builder trusts what this machine trusts (a TLS-inspecting proxy's CA
        # included); the bundle is mounted for the RUN steps only and stays out of the image.
        argv += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    started = time.monotonic()
    result = buildah(*argv, str(ROOT), check=False, timeout=1800)
    seconds = time.monotonic() - started
    (CACHE / "build.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        raise CheckFailed(f"the build failed (full log: {CACHE / 'build.log'}):\n{tail}")
    return seconds


# --- 3. the build context ----------------------------------------------------------------


def check_context(buildah: Buildah) -> None:
    """Builds `COPY . /context/` with the project's .dockerignore and lists what arrived."""
    image = f"localhost/textlens-context:docker-check-{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        containerfile = Path(tmp) / "Containerfile"
        containerfile.write_text("FROM scratch\nCOPY . /context/\n")
        buildah(
            "bud",
            "--quiet",
            "--pull=never",
            "--tag",
            image,
            "--file",
            str(containerfile),
            str(ROOT),
        )
    try:
        with buildah.container(image) as container:
            mount = Path(buildah("mount", container).stdout.strip()) / "context"
            sent = sorted(str(p.relative_to(mount)) for p in mount.rglob("*"))
            buildah("umount", container, check=False)
    finally:
        buildah("rmi", image, check=False)
    top = {path.split("/")[0] for path in sent}
    if top != CONTEXT_ALLOWED:
        raise CheckFailed(f"the build context holds {sorted(top)}, not {sorted(CONTEXT_ALLOWED)}")
    debris = [path for path in sent if CONTEXT_DEBRIS.search(path)]
    if debris:
        raise CheckFailed(f"the build context holds local debris: {debris[:10]}")
    if not {"server/app.py", "client/pyproject.toml"} <= set(sent):
        raise CheckFailed("the build context lacks the sources")
    say(f"build context: {len(sent)} paths, only {', '.join(sorted(CONTEXT_ALLOWED))}")


# --- 4. the image, run -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process below pid, parents before children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in sorted(children.get(queue.pop(0), [])):
            found.append(child)
            queue.append(child)
    return found


def image_process(ancestor: int) -> int | None:
    """The first process below ancestor that runs a program of its own root filesystem:
    the CMD itself (buildah's helpers run from outside the container's root)."""
    for pid in descendants(ancestor):
        with contextlib.suppress(OSError):
            root = Path(os.readlink(f"/proc/{pid}/root"))
            if root != Path("/") and Path(os.readlink(f"/proc/{pid}/exe")).is_relative_to(root):
                return pid
    return None


def ids_of(pid: int) -> tuple[int, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    uid = re.search(r"^Uid:\s+\d+\s+(\d+)", status, re.M)
    gid = re.search(r"^Gid:\s+\d+\s+(\d+)", status, re.M)
    if uid is None or gid is None:
        raise CheckFailed(f"cannot read the ids of process {pid}")
    return int(uid[1]), int(gid[1])


def health_argv(config: dict[str, Any]) -> list[str]:
    test = list((config.get("Healthcheck") or {}).get("Test") or [])
    if not test or test[0] == "NONE":
        raise CheckFailed("the image has no HEALTHCHECK")
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    return test[1:]


class Server:
    """The image's CMD, started as a container would start it."""

    def __init__(self, buildah: Buildah, container: str, env: dict[str, str], log: Path) -> None:
        self.buildah, self.container, self.env = buildah, container, env
        self.config = buildah.image_config(IMAGE)
        self.log = log
        cmd = [*(self.config.get("Entrypoint") or []), *(self.config.get("Cmd") or [])]
        with log.open("w") as out:
            self.process = subprocess.Popen(
                buildah.run_argv(container, env, cmd), stdout=out, stderr=subprocess.STDOUT
            )

    def pid(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CheckFailed(f"the server exited {self.process.returncode}:\n{self.output()}")
            pid = image_process(self.process.pid)
            if pid is not None:
                return pid
            time.sleep(0.2)
        raise CheckFailed("no server process appeared")

    def health(self) -> subprocess.CompletedProcess[str]:
        timeout = (self.config["Healthcheck"].get("Timeout") or 30e9) / 1e9
        argv = self.buildah.run_argv(self.container, self.env, health_argv(self.config))
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout + 15, check=False
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 124, "", "timed out")

    def wait_healthy(self) -> float:
        check = self.config["Healthcheck"]
        # Docker's own patience: the start period, then `retries` failed intervals.
        patience = (check.get("StartPeriod", 0) + check["Retries"] * check["Interval"]) / 1e9
        started = time.monotonic()
        while time.monotonic() - started < patience:
            if self.process.poll() is not None:
                raise CheckFailed(f"the server exited {self.process.returncode}:\n{self.output()}")
            result = self.health()
            if result.returncode == 0:
                return time.monotonic() - started
            time.sleep(1)
        raise CheckFailed(f"HEALTHCHECK still failing after {patience:.0f} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text()[-4000:]

    def stop(self) -> None:
        """Kills whatever is left of the container's processes (buildah run does not)."""
        for pid in reversed(descendants(self.process.pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def check_refuses_to_start_without_a_key(buildah: Buildah, container: str) -> None:
    usage = run(buildah.run_argv(container, {}, ["textlens-server", "serve", "--help"])).stdout
    if "--dev" not in usage:
        say("no-key start: skipped (this server has no --dev mode yet, so it starts keyless)")
        return
    env = {"TEXTLENS_PORT": str(free_port()), "TEXTLENS_METRICS_PORT": str(free_port())}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(buildah, container, env, Path(tmp) / "server.log")
        try:
            code = server.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"the image started without a key:\n{server.output()}") from None
        finally:
            server.stop()
        if code == 0 or "TEXTLENS_TOKEN=" in server.output():
            raise CheckFailed(f"the image started without a key:\n{server.output()}")
    say(f"no-key start: refused (exit {code})")


def check_image(buildah: Buildah) -> None:
    config = buildah.image_config(IMAGE)
    user = str(config.get("User") or "0")
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or int(uid) == 0:
        raise CheckFailed(f"the image's USER is {user!r}: it must be a numeric non-root uid")
    if config.get("StopSignal") not in (None, "SIGTERM", "15"):
        raise CheckFailed(f"STOPSIGNAL is {config['StopSignal']}")
    secret = secrets.token_urlsafe(32)
    port, metrics_port = free_port(), free_port()
    env = {
        "TEXTLENS_PORT": str(port),
        "TEXTLENS_METRICS_PORT": str(metrics_port),
        "TEXTLENS_JWT_SECRET": secret,
    }
    with buildah.container(IMAGE) as container:
        migrated = run(buildah.run_argv(container, {}, ["textlens-server", "migrate"]))
        say(f"migrate as the image's user: {migrated.stdout.strip()}")
        check_refuses_to_start_without_a_key(buildah, container)

        with tempfile.TemporaryDirectory() as tmp:
            server = Server(buildah, container, env, Path(tmp) / "server.log")
            try:
                pid = server.pid()
                if ids_of(pid) != (int(uid), int(gid or uid)):
                    raise CheckFailed(f"the server runs as {ids_of(pid)}, the image says {user}")
                say(f"CMD {config['Cmd']} runs as the image's user {user} (pid {pid})")
                waited = server.wait_healthy()
                say(f"HEALTHCHECK passes {waited:.0f} s after start")
                check_a_call(buildah, container, env, port, metrics_port)
                os.kill(pid, signal.SIGTERM)
                signalled = time.monotonic()
                try:
                    code = server.process.wait(timeout=HANG_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise CheckFailed(
                        f"still running {HANG_TIMEOUT:.0f} s after SIGTERM:\n{server.output()}"
                    ) from None
                stopped = time.monotonic() - signalled
                if code != 0:
                    raise CheckFailed(f"exited {code} after SIGTERM:\n{server.output()}")
                say(f"SIGTERM: drained and exited 0 in {stopped:.1f} s")
                if stopped > DOCKER_STOP_TIMEOUT:
                    say(
                        f"WARNING: longer than docker stop's {DOCKER_STOP_TIMEOUT:.0f} s, after "
                        "which Docker would have sent SIGKILL"
                    )
                if server.health().returncode == 0:
                    raise CheckFailed("HEALTHCHECK passes with the server gone: it checks nothing")
                say("HEALTHCHECK fails once the server is gone")
            finally:
                server.stop()


def check_a_call(
    buildah: Buildah, container: str, env: dict[str, str], port: int, metrics_port: int
) -> None:
    token = run(
        buildah.run_argv(
            container,
            env,
            ["textlens-server", "token", "--subject", "docker-check", "--ttl", "600"],
        )
    ).stdout.strip()
    analysis = json.loads(
        run(
            buildah.run_argv(
                container,
                {**env, "TEXTLENS_TOKEN": token},
                [
                    "textlens",
                    "--target",
                    f"127.0.0.1:{port}",
                    "analyze",
                    "What a fine day.",
                    "--type",
                    "sentiment",
                ],
            )
        ).stdout
    )
    if not analysis.get("id") or "sentiment" not in analysis:
        raise CheckFailed(f"CreateAnalysis through the image's CLI answered {analysis}")
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as page:
        metrics = page.read().decode()
    if 'grpc_method="CreateAnalysis"' not in metrics:
        raise CheckFailed("/metrics does not count the CreateAnalysis call")
    say("CreateAnalysis through the image's CLI: stored; /metrics counts it")


def venv_size(buildah: Buildah) -> str:
    with buildah.container(IMAGE) as container:
        mount = buildah("mount", container).stdout.strip()
        size = run(["du", "-sh", f"{mount}/opt/textlens"]).stdout.split()[0]
        buildah("umount", container, check=False)
    return size


def image_size(buildah: Buildah) -> str:
    (entry,) = json.loads(buildah("images", "--json", IMAGE).stdout)
    return str(entry["size"])


def main() -> int:
    if os.geteuid() != 0:
        print("docker-check: run as root (buildah here builds rootful)", file=sys.stderr)
        return 2
    if shutil.which("buildah") is None:
        print("docker-check: buildah is missing (apt-get install -y buildah)", file=sys.stderr)
        return 2
    CACHE.mkdir(parents=True, exist_ok=True)
    buildah = Buildah()
    try:
        base, origin = base_image(buildah)
        say(f"base {base} ({origin})")
        seconds = build(buildah, base)
        say(f"built {IMAGE} in {seconds:.0f} s")
        check_context(buildah)
        check_image(buildah)
        sizes = f"image {image_size(buildah)}, venv {venv_size(buildah)}"
    except CheckFailed as failure:
        print(f"docker-check FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        buildah("rmi", IMAGE, check=False)
    print(f"docker-check passed: build {seconds:.0f} s, {sizes}, base {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
