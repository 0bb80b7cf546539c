#!/usr/bin/env python3
"""Checks the Dockerfile without a Docker engine, by running its steps the way the image does.

Each stage gets a directory standing in for its root filesystem; the absolute paths the
Dockerfile works with (WORKDIR, COPY destinations, mount targets, venvs, created
directories, home directories) are mapped into it, and the base image's Python is a fresh
virtual environment of the same version. Then, in order:

  builder   COPY from the build context, honouring .dockerignore, and the RUN steps that
            build the wheels (with pip's own configuration ignored, so only the index is
            used, as in a real build);
  runtime   the RUN steps that create the venv and install the wheels with --no-index, so
            a dependency missing from the builder's wheels fails here as it would in the
            image;
  migrate   `textlens-server migrate` (what compose and the Kubernetes Job run), once the
            server has that command;
  start     ENTRYPOINT/CMD with the image's ENV, in its WORKDIR, as its USER (when this
            runs as root), on free ports (as `docker run -e TEXTLENS_PORT=...` would);
  health    the HEALTHCHECK command, until it succeeds;
  stop      STOPSIGNAL; the server must exit 0 within docker stop's 10 s.

System steps (apt-get, groupadd, useradd) are not run here; the uids they declare are used.
RUN steps are plain `&&` chains of commands this script knows; anything else is an error,
so the check never silently skips a step.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKER_STOP_TIMEOUT = 10.0  # docker stop's default before SIGKILL
# The base image's PATH below the stage's interpreter (python:3.11-slim's, less /usr/local/bin).
SYSTEM_PATH = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
# Host settings a real build would also be given (network and certificates), nothing else.
PASSED_THROUGH = (
    "PIP_INDEX_URL",
    "PIP_CERT",
    "PIP_DEFAULT_TIMEOUT",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)
# Instructions that only describe the image; the container steps read them later.
DESCRIPTIVE = frozenset(
    {"CMD", "ENTRYPOINT", "EXPOSE", "HEALTHCHECK", "LABEL", "STOPSIGNAL", "VOLUME"}
)
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::([-+])([^}]*))?\}|(\w+))")
_FLAG = re.compile(r"--([a-z-]+)=(\S+)\s*")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


class CheckError(Exception):
    """A step of the Dockerfile failed, or cannot be reproduced here."""


# --- parsing -----------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    value: str
    line: int


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise CheckError(f"no stage named {name!r}")


def instructions(text: str) -> Iterator[Instruction]:
    """Instructions with continuation lines joined and comment lines dropped."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        keyword, _, value = " ".join(pending).partition(" ")
        pending = []
        yield Instruction(keyword.upper(), value.strip(), start)


def parse(text: str) -> Dockerfile:
    dockerfile = Dockerfile({}, [])
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            words = instruction.value.split()
            image = expand(words[0], dockerfile.global_args)
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            dockerfile.stages.append(Stage(image, name or str(len(dockerfile.stages))))
        elif dockerfile.stages:
            dockerfile.stages[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            name, _, default = instruction.value.partition("=")
            dockerfile.global_args[name] = default
        else:
            raise CheckError(f"line {instruction.line}: {instruction.keyword} before FROM")
    if not dockerfile.stages:
        raise CheckError("no FROM")
    return dockerfile


def expand(text: str, variables: dict[str, str]) -> str:
    """$VAR, ${VAR}, ${VAR:-default} and ${VAR:+alternative}, as Docker expands them."""

    def substitute(match: re.Match[str]) -> str:
        name = match[1] or match[4]
        value = variables.get(name, "")
        if match[2] == "-":
            return value or match[3]
        if match[2] == "+":
            return match[3] if value else ""
        return value

    return _VARIABLE.sub(substitute, text)


def split_flags(value: str) -> tuple[dict[str, list[str]], str]:
    """``--name=value`` options in front of an instruction's arguments."""
    flags: dict[str, list[str]] = {}
    while match := _FLAG.match(value):
        flags.setdefault(match[1], []).append(match[2])
        value = value[match.end() :]
    return flags, value


def command_argv(value: str) -> list[str]:
    """Exec form as given; shell form through /bin/sh -c, as Docker runs it."""
    if value.startswith("["):
        argv = json.loads(value)
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise CheckError(f"not an exec-form command: {value}")
        return argv
    return ["/bin/sh", "-c", value]


def env_pairs(value: str) -> list[tuple[str, str]]:
    tokens = shlex.split(value)
    if tokens and "=" not in tokens[0]:  # the legacy `ENV KEY value` form
        return [(tokens[0], value.split(None, 1)[1])]
    return [(key, val) for key, _, val in (token.partition("=") for token in tokens)]


def mount_options(spec: str) -> dict[str, str]:
    return dict(part.partition("=")[::2] for part in spec.split(","))


def seconds(duration: str) -> float:
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[unit] for n, unit in _DURATION.findall(duration))


def health_check(stage: Stage) -> tuple[dict[str, float], list[str]] | None:
    """The last HEALTHCHECK's timings (seconds) and command, or None."""
    found = [i for i in stage.instructions if i.keyword == "HEALTHCHECK"]
    if not found or found[-1].value.upper() == "NONE":
        return None
    flags, rest = split_flags(found[-1].value)
    keyword, _, command = rest.partition(" ")
    if keyword.upper() != "CMD":
        raise CheckError(f"line {found[-1].line}: HEALTHCHECK without CMD")
    timings = {"interval": 30.0, "timeout": 30.0, "start-period": 0.0, "retries": 3.0}
    for name, values in flags.items():
        timings[name] = float(values[-1]) if name == "retries" else seconds(values[-1])
    return timings, command_argv(command.strip())


# --- the build context -------------------------------------------------------------------


class DockerIgnore:
    """.dockerignore rules: the last matching pattern wins; a pattern matching a parent
    directory matches everything below it."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str], str]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = posixpath.normpath(line.lstrip("!").strip().lstrip("/"))
            self.rules.append((negate, re.compile(_glob_regex(pattern)), pattern))

    def excluded(self, relpath: str) -> bool:
        parts = relpath.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        result = False
        for negate, regex, _ in self.rules:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                result = not negate
        return result

    def may_include_below(self, relpath: str) -> bool:
        """Whether an exception could re-include something inside an excluded directory."""
        return any(
            negate and (pattern.startswith(relpath + "/") or any(c in pattern for c in "*?["))
            for negate, _, pattern in self.rules
        )


def _glob_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            char = pattern[i]
            out.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
            i += 1
    return "".join(out)


def context_files(context: Path, source: str, ignore: DockerIgnore) -> list[str]:
    """Relative paths of the files a COPY source sends, after .dockerignore."""
    start = context / source
    if start.is_file():
        rel = start.relative_to(context).as_posix()
        return [] if ignore.excluded(rel) else [rel]
    files: list[str] = []
    for directory, subdirs, names in os.walk(start):
        base = Path(directory).relative_to(context).as_posix()
        subdirs[:] = [
            d
            for d in sorted(subdirs)
            if not ignore.excluded(f"{base}/{d}") or ignore.may_include_below(f"{base}/{d}")
        ]
        files += [f"{base}/{n}" for n in sorted(names) if not ignore.excluded(f"{base}/{n}")]
    return files


# --- running the stages ------------------------------------------------------------------


@dataclass
class Account:
    uid: int
    gid: int
    home: str


@dataclass
class StageRun:
    """What one stage has built so far: its stand-in root, ENV, WORKDIR and USER."""

    stage: Stage
    root: Path
    env: dict[str, str]
    args: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "root"

    def host(self, image_path: str) -> Path:
        return self.root / posixpath.normpath(image_path).lstrip("/")


class Emulator:
    """Runs a Dockerfile's stages in stand-in root directories under ``base``."""

    def __init__(self, dockerfile: Dockerfile, context: Path, base: Path) -> None:
        self.dockerfile = dockerfile
        self.context = context
        self.base = base
        ignore_file = context / ".dockerignore"
        self.ignore = DockerIgnore(ignore_file.read_text() if ignore_file.exists() else "")
        self.roots = image_roots(dockerfile)
        self.runs: dict[str, StageRun] = {}
        self.images: dict[str, Path] = {}
        self.groups: dict[str, int] = {"root": 0}
        self.accounts: dict[str, Account] = {"root": Account(0, 0, "/root")}

    def build(self) -> StageRun:
        for stage in self.dockerfile.stages:
            self.runs[stage.name] = self._build_stage(stage)
        return self.runs[self.dockerfile.final().name]

    def base_python(self, image: str) -> Path:
        """A fresh venv standing in for the base image's Python, one per image (a stage
        only reads it: installs go into the stage's own directories)."""
        if image not in self.images:
            interpreter = python_for(image)
            step(f"FROM {image}: a fresh venv of {interpreter} stands in for its Python")
            home = self.base / ("image-" + re.sub(r"[^\w.-]", "_", image))
            run([interpreter, "-m", "venv", str(home)])
            self.images[image] = home
        return self.images[image]

    def _build_stage(self, stage: Stage) -> StageRun:
        root = self.base / f"stage-{stage.name}"
        python_bin = self.base_python(stage.image) / "bin"
        env = {"PATH": f"{python_bin}:{SYSTEM_PATH}", "LANG": "C.UTF-8"}
        state = StageRun(stage, root, env, args=dict(self.dockerfile.global_args))
        for instruction in stage.instructions:
            handler = getattr(self, f"_do_{instruction.keyword.lower()}", None)
            if handler is not None:
                handler(state, instruction)
            elif instruction.keyword not in DESCRIPTIVE:
                raise CheckError(
                    f"line {instruction.line}: {instruction.keyword} is not reproduced here"
                )
        return state

    def _do_arg(self, state: StageRun, instruction: Instruction) -> None:
        name, _, default = instruction.value.partition("=")
        state.args[name] = state.args.get(name) or default

    def _do_env(self, state: StageRun, instruction: Instruction) -> None:
        for key, value in env_pairs(instruction.value):
            mapped = self.map_text(state, value)
            state.env[key] = expand(mapped, {**state.args, **state.env})

    def _do_workdir(self, state: StageRun, instruction: Instruction) -> None:
        path = expand(instruction.value, {**state.args, **state.env})
        state.workdir = posixpath.join(state.workdir, path)
        state.host(state.workdir).mkdir(parents=True, exist_ok=True)

    def _do_user(self, state: StageRun, instruction: Instruction) -> None:
        state.user = expand(instruction.value, {**state.args, **state.env})

    def _do_copy(self, state: StageRun, instruction: Instruction) -> None:
        flags, rest = split_flags(instruction.value)
        if "from" in flags:
            raise CheckError(f"line {instruction.line}: COPY --from is not reproduced here")
        *sources, dest = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        target = posixpath.join(state.workdir, dest)
        into_directory = dest.endswith("/") or len(sources) > 1
        for source in sources:
            files = context_files(self.context, source, self.ignore)
            if not files:
                raise CheckError(
                    f"line {instruction.line}: COPY {source}: not in the build context"
                    " (missing, or excluded by .dockerignore)"
                )
            step(f"[{state.stage.name}] COPY {source} -> {dest} ({len(files)} files)")
            self._copy(state, source, files, target, into_directory)

    def _copy(
        self, state: StageRun, source: str, files: list[str], target: str, into_dir: bool
    ) -> None:
        source_path = self.context / source
        for rel in files:
            if source_path.is_dir():
                relative = (self.context / rel).relative_to(source_path).as_posix()
                destination = posixpath.join(target, relative)
            elif into_dir:
                destination = posixpath.join(target, posixpath.basename(rel))
            else:
                destination = target
            host = state.host(destination)
            host.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.context / rel, host)

    def _do_run(self, state: StageRun, instruction: Instruction) -> None:
        flags, command = split_flags(instruction.value)
        mounts = [mount_options(spec) for spec in flags.get("mount", [])]
        overrides = {
            m["target"]: self.runs[m["from"]].host(m.get("source", "/"))
            for m in mounts
            if m.get("type") == "bind" and "from" in m
        }
        env = {**state.env, "HOME": str(state.host(self.accounts["root"].home))}
        env.update(pip_environment(cache=any(m.get("type") == "cache" for m in mounts)))
        state.host("/root").mkdir(parents=True, exist_ok=True)
        for argv in shell_chain(command, instruction.line):
            mapped = [self.map_text(state, token, overrides) for token in argv]
            self._run_command(state, instruction, argv, mapped, env)

    def _run_command(
        self,
        state: StageRun,
        instruction: Instruction,
        argv: list[str],
        mapped: list[str],
        env: dict[str, str],
    ) -> None:
        program = posixpath.basename(argv[0])
        label = f"[{state.stage.name}] RUN {shlex.join(argv)}"
        if program in ("groupadd", "useradd"):
            self._record_account(argv)
            step(f"{label}  (system account: not created here, its ids are used)")
        elif program in ("apt-get", "apt") or (program == "rm" and is_apt_cleanup(argv)):
            step(f"{label}  (system packages: not installed here)")
        elif program == "chown":
            if os.geteuid() != 0:
                step(f"{label}  (skipped: needs root)")
                return
            step(label)
            self._require_mapped(mapped[1:], instruction)
            run(["chown", *self._numeric_owner(mapped[1:])], env=env)
        elif program in ("mkdir", "chmod") or program.startswith(("python", "pip")):
            step(label)
            self._require_mapped(mapped, instruction)
            executable = shutil.which(mapped[0], path=env["PATH"]) or mapped[0]
            run([executable, *mapped[1:]], env=env, cwd=state.host(state.workdir))
        else:
            raise CheckError(
                f"line {instruction.line}: {program!r} is not a step this check can run;"
                " teach scripts/check_dockerfile.py, or keep RUN steps to pip, python,"
                " mkdir, chown and system steps"
            )

    def _record_account(self, argv: list[str]) -> None:
        options = dict(itertools.pairwise(argv[1:]))
        name = argv[-1]
        if posixpath.basename(argv[0]) == "groupadd":
            self.groups[name] = int(options.get("--gid", options.get("-g", "999")))
            return
        gid = options.get("--gid", options.get("-g", name))
        self.accounts[name] = Account(
            uid=int(options.get("--uid", options.get("-u", "999"))),
            gid=int(gid) if gid.isdigit() else self.groups[gid],
            home=options.get("--home-dir", options.get("-d", f"/home/{name}")),
        )

    def _numeric_owner(self, args: list[str]) -> list[str]:
        out = []
        for arg in args:
            if arg.startswith(("-", "/")):
                out.append(arg)
                continue
            user, _, group = arg.partition(":")
            uid = self.accounts[user].uid if user in self.accounts else int(user)
            gid = self.groups[group] if group in self.groups else int(group or uid)
            out.append(f"{uid}:{gid}")
        return out

    def _require_mapped(self, mapped: list[str], instruction: Instruction) -> None:
        """Refuses to touch this machine's own paths: every absolute path must be mapped."""
        for token in mapped:
            if token.startswith("/") and not Path(token).is_relative_to(self.base):
                if Path(token).is_file() and os.access(token, os.X_OK):
                    continue
                raise CheckError(
                    f"line {instruction.line}: {token} is outside the image's mapped paths"
                )

    def map_text(self, state: StageRun, text: str, overrides: dict[str, Path] | None = None) -> str:
        """Rewrites the image's absolute paths in ``text`` to their stand-ins."""
        targets: dict[str, str] = {root: str(state.host(root)) for root in self.roots}
        targets.update({k.rstrip("/"): str(v) for k, v in (overrides or {}).items()})
        if not targets:
            return text
        alternatives = "|".join(re.escape(t) for t in sorted(targets, key=len, reverse=True))
        pattern = re.compile(rf"(?<![\w.-])({alternatives})(?=/|$|[^\w.-])")
        return pattern.sub(lambda m: targets[m[1]], text)

    def account(self, user: str) -> Account:
        name, _, group = user.partition(":")
        if name in self.accounts:
            account = self.accounts[name]
        else:
            known = [a for a in self.accounts.values() if str(a.uid) == name]
            account = known[0] if known else Account(int(name), int(name), "/")
        if group:
            gid = self.groups[group] if group in self.groups else int(group)
            account = Account(account.uid, gid, account.home)
        return account


def image_roots(dockerfile: Dockerfile) -> set[str]:
    """The absolute paths the Dockerfile creates or works in: these get stand-ins."""
    roots: set[str] = set()
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            flags, rest = split_flags(instruction.value)
            if instruction.keyword == "WORKDIR":
                roots.add(rest)
            elif instruction.keyword == "COPY":
                roots.add((json.loads(rest) if rest.startswith("[") else shlex.split(rest))[-1])
            elif instruction.keyword == "RUN":
                roots.update(_run_roots(flags, rest, instruction.line))
    return {posixpath.normpath(r) for r in roots if r.startswith("/") and r.strip("/")}


def _run_roots(flags: dict[str, list[str]], command: str, line: int) -> set[str]:
    mounts = [mount_options(spec) for spec in flags.get("mount", [])]
    # A cache mount stands for this machine's pip cache, not for a path in the image.
    roots = {m.get("target", "") for m in mounts if m.get("type") != "cache"}
    for argv in shell_chain(command, line):
        if "venv" in argv[1:]:
            after = argv[argv.index("venv") + 1 :]
            roots.update([a for a in after if not a.startswith("-")][:1])
        elif posixpath.basename(argv[0]) == "mkdir":
            roots.update(a for a in argv[1:] if not a.startswith("-"))
        elif "--home-dir" in argv:
            roots.add(argv[argv.index("--home-dir") + 1])
    return roots


def shell_chain(command: str, line: int) -> list[list[str]]:
    """A RUN command as a list of argv, split at ``&&``; other shell syntax is refused."""
    if command.startswith("["):
        return [command_argv(command)]
    lexer = shlex.shlex(command, posix=True, punctuation_chars="&|;<>()")
    lexer.whitespace_split = True
    chain: list[list[str]] = [[]]
    for word in lexer:
        if word == "&&":
            chain.append([])
        elif word and set(word) <= set("&|;<>()"):
            raise CheckError(f"line {line}: {word!r} in RUN: only && chains are reproduced")
        else:
            chain[-1].append(word)
    return [argv for argv in chain if argv]


def is_apt_cleanup(argv: list[str]) -> bool:
    paths = [a for a in argv[1:] if not a.startswith("-")]
    return bool(paths) and all(p.startswith(("/var/lib/apt/", "/var/cache/apt/")) for p in paths)


def python_for(image: str) -> str:
    """An interpreter of the image's Python version (python:3.11-slim -> python3.11)."""
    match = re.match(r"(?:.*/)?python:(\d+\.\d+)", image)
    if not match:
        raise CheckError(f"base image {image}: only python:X.Y images are reproduced")
    version = match[1]
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    if not found:
        raise CheckError(f"the image uses Python {version}, which is not installed here")
    return found


def pip_environment(*, cache: bool) -> dict[str, str]:
    """pip as in a clean image: no config files (no local find-links or extra indexes)."""
    env = {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
    env["PIP_CONFIG_FILE"] = os.devnull
    if cache:  # the RUN step has a BuildKit cache mount: this machine's cache stands in
        default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pip"
        env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(default))
    return env


# --- running the container ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


@dataclass
class Container:
    """The final stage's command running as a process, the way `docker run` starts it."""

    emulator: Emulator
    state: StageRun
    env: dict[str, str]
    logs: Path
    identity: dict[str, object] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, emulator: Emulator, state: StageRun, overrides: dict[str, str]) -> Container:
        account = emulator.account(state.user)
        env = {
            **state.env,
            "HOME": str(state.host(account.home)),
            "HOSTNAME": "textlens-check",
            **overrides,
        }
        container = cls(emulator, state, env, emulator.base / "container.log")
        if os.geteuid() == 0 and account.uid != 0:
            container.identity = {"user": account.uid, "group": account.gid, "extra_groups": []}
            try:
                container.exec(["python", "-c", ""], timeout=60)
            except OSError:
                step(
                    f"note: this machine's Python is not readable by uid {account.uid}, so"
                    " the server runs as the current user; file ownership is checked instead"
                )
                container.identity = {}
        return container

    def _identity(self) -> dict[str, object]:
        return self.identity

    def exec(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """Like `docker exec`: same environment, directory and user."""
        mapped = [self.emulator.map_text(self.state, a) for a in argv]
        return run(
            mapped,
            env=self.env,
            cwd=self.state.host(self.state.workdir),
            timeout=timeout,
            check=False,
            **self._identity(),
        )

    def start(self, argv: Sequence[str]) -> None:
        mapped = [self.emulator.map_text(self.state, a) for a in argv]
        executable = shutil.which(mapped[0], path=self.env["PATH"]) or mapped[0]
        with self.logs.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - the image's own command
                [executable, *mapped[1:]],
                env=self.env,
                cwd=self.state.host(self.state.workdir),
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._identity(),  # type: ignore[call-overload]
            )

    def tail(self, lines: int = 40) -> str:
        text = self.logs.read_text(errors="replace") if self.logs.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def image_command(stage: Stage) -> list[str]:
    def last(keyword: str) -> list[str]:
        found = [i for i in stage.instructions if i.keyword == keyword]
        return command_argv(found[-1].value) if found else []

    command = last("ENTRYPOINT") + last("CMD")
    if not command:
        raise CheckError("the image has no CMD or ENTRYPOINT")
    return command


def stop_signal(stage: Stage) -> signal.Signals:
    found = [i.value for i in stage.instructions if i.keyword == "STOPSIGNAL"]
    name = found[-1] if found else "SIGTERM"
    return signal.Signals(int(name)) if name.isdigit() else signal.Signals[name]


def run_container(emulator: Emulator, state: StageRun) -> None:
    grpc_port, metrics_port = free_port(), free_port()
    container = Container.create(
        emulator,
        state,
        {"TEXTLENS_PORT": str(grpc_port), "TEXTLENS_METRICS_PORT": str(metrics_port)},
    )
    who = emulator.account(state.user)
    step(f"container env: USER {state.user} (uid {who.uid}), WORKDIR {state.workdir}")
    try:
        check_writable(container)
        migrate(container)
        command = image_command(state.stage)
        step(f"start: {shlex.join(command)} (gRPC port {grpc_port}, metrics {metrics_port})")
        container.start(command)
        wait_healthy(container)
        stop(container)
    except CheckError as exc:
        output = container.tail()
        raise CheckError(f"{exc}\n--- server output ---\n{output}" if output else str(exc)) from exc
    finally:
        container.kill()


def check_writable(container: Container) -> None:
    """The SQLite default must live where the image's user may write (a root-owned
    directory works as root and fails in the image)."""
    url = container.env.get("TEXTLENS_DATABASE_URL", "sqlite+aiosqlite:///textlens.db")
    if not url.startswith("sqlite"):
        return
    workdir = container.state.host(container.state.workdir)
    directory = (workdir / url.split(":///", 1)[1]).parent
    account = container.emulator.account(container.state.user)
    status = directory.stat()
    writable = (
        account.uid == 0
        or (status.st_uid == account.uid and status.st_mode & 0o200)
        or (status.st_gid == account.gid and status.st_mode & 0o020)
        or status.st_mode & 0o002
    )
    image_path = "/" + directory.relative_to(container.state.root).as_posix()
    if not writable:
        raise CheckError(f"the SQLite directory {image_path} is not writable by uid {account.uid}")
    step(f"SQLite directory {image_path} is writable by uid {account.uid}")


def migrate(container: Container) -> None:
    usage = container.exec(["textlens-server", "--help"], timeout=60)
    if usage.returncode != 0:
        raise CheckError(f"textlens-server --help failed:\n{usage.stdout}{usage.stderr}")
    if "migrate" not in usage.stdout:
        step("migrate: skipped, textlens-server has no migrate command yet")
        return
    step("migrate: textlens-server migrate")
    result = container.exec(["textlens-server", "migrate"], timeout=120)
    if result.returncode != 0:
        raise CheckError(f"migrate exited {result.returncode}:\n{result.stdout}{result.stderr}")


def wait_healthy(container: Container) -> None:
    check = health_check(container.state.stage)
    if check is None:
        raise CheckError("the image has no HEALTHCHECK")
    timings, argv = check
    step(f"health: {shlex.join(argv)}")
    deadline = time.monotonic() + timings["start-period"] + timings["interval"] * timings["retries"]
    assert container.process is not None
    while True:
        if container.process.poll() is not None:
            raise CheckError(f"the server exited with {container.process.returncode} at start")
        try:
            result = container.exec(argv, timeout=timings["timeout"])
        except subprocess.TimeoutExpired:
            result = None
        if result is not None and result.returncode == 0:
            step(f"health: healthy ({result.stdout.strip()})")
            return
        if time.monotonic() > deadline:
            detail = "timed out" if result is None else (result.stdout + result.stderr).strip()
            raise CheckError(f"HEALTHCHECK never succeeded: {detail}")
        time.sleep(0.5)


def stop(container: Container) -> None:
    sig = stop_signal(container.state.stage)
    assert container.process is not None
    step(f"stop: {sig.name}, like docker stop (SIGKILL after {DOCKER_STOP_TIMEOUT:g} s)")
    container.process.send_signal(sig)
    try:
        code = container.process.wait(DOCKER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise CheckError(f"still running {DOCKER_STOP_TIMEOUT:g} s after {sig.name}") from exc
    if code != 0:
        raise CheckError(f"the server exited with {code} after {sig.name}")
    step("stop: exited 0")


# --- glue --------------------------------------------------------------------------------

_STARTED = time.monotonic()


def step(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", flush=True)


def run(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 900,
    check: bool = True,
    **identity: object,
) -> subprocess.CompletedProcess[str]:
    result: subprocess.CompletedProcess[str] = subprocess.run(  # noqa: S603 - argv, no shell
        list(argv),
        env=env,
        cwd=cwd,
        timeout=timeout,
        capture_output=True,
        text=True,
        check=False,
        **identity,  # type: ignore[call-overload]
    )
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        raise CheckError(
            f"{shlex.join(argv)} exited {result.returncode}:\n" + "\n".join(output[-40:])
        )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dockerfile", type=Path, default=ROOT / "Dockerfile")
    parser.add_argument("--context", type=Path, default=ROOT)
    parser.add_argument("--keep", action="store_true", help="keep the stand-in directories")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="textlens-docker-check-"))
    base.chmod(0o755)  # the image's user must reach its directories
    try:
        emulator = Emulator(parse(args.dockerfile.read_text()), args.context.resolve(), base)
        final = emulator.build()
        run_container(emulator, final)
    except (CheckError, subprocess.TimeoutExpired) as exc:
        print(f"docker-check FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    step("docker-check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
