"""TEXTLENS_WORKERS: several server processes behind one port, one supervisor."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from helpers.auth import authed_channel
from helpers.deploy import tool
from helpers.process import ServerProcess
from helpers.redis import free_port

from server.transport.metrics import build_version
from textlens.v1 import analysis_service_pb2, analysis_service_pb2_grpc

REQUEST = analysis_service_pb2.CreateAnalysisRequest(text="Spread me.", analysis_type=1)


def children(process: ServerProcess) -> list[psutil.Process]:
    return psutil.Process(process.pid).children()


async def create_over_connections(target: str, connections: int, calls: int) -> None:
    async def one_connection(i: int) -> None:
        # A distinct channel option makes a distinct connection (the kernel spreads those).
        async with authed_channel(
            target, options=[("grpc.primary_user_agent", f"c{i}")]
        ) as channel:
            stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
            for _ in range(calls):
                await stub.CreateAnalysis(REQUEST, timeout=30)

    await asyncio.gather(*(one_connection(i) for i in range(connections)))


async def test_two_processes_share_the_port_and_the_metrics(tmp_path: Path) -> None:
    metrics_port = free_port()
    env = {
        "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "TEXTLENS_WORKERS": "2",
        "TEXTLENS_METRICS_PORT": str(metrics_port),
    }
    with ServerProcess(env, cwd=tmp_path) as process:
        assert len(children(process)) == 2
        await create_over_connections(process.target, connections=16, calls=5)
        serving = {r["pid"] for r in process.log_records() if r.get("event") == "rpc"}
        assert len(serving) == 2, "both processes answered calls"
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        text = await asyncio.to_thread(
            lambda: urllib.request.urlopen(url, timeout=5).read().decode()
        )
        assert 'textlens_analyses_total{analysis_type="SENTIMENT",status="COMPLETED"} 80.0' in text
        created = (
            'grpc_server_handled_total{grpc_code="OK",grpc_method="CreateAnalysis",'
            'grpc_service="textlens.v1.AnalysisService",grpc_type="unary"} 80.0'
        )
        assert created in text
        assert f'textlens_build_info{{version="{build_version()}"}} 1.0' in text
        assert "python_info{" in text
        assert _value(text, 'python_gc_collections_total{generation="0"}') > 0
        # The group's figures: one series each, summed over the processes.
        memory = [line for line in text.splitlines() if line.startswith("process_resident")]
        assert len(memory) == 1
        rss = sum(c.memory_info().rss for c in [psutil.Process(process.pid), *children(process)])
        assert float(memory[0].split()[1]) == pytest.approx(rss, rel=0.2)
        checked = await asyncio.to_thread(
            subprocess.run,
            [tool("promtool"), "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        _first, second = children(process)
        second.kill()  # a process that dies is replaced
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = {r["pid"] for r in process.log_records() if r.get("event") == "serving"}
            alive = {c.pid for c in children(process) if c.status() != "zombie"}
            if len(alive) == 2 and second.pid not in alive and alive <= ready:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the dead process was not replaced")
        await create_over_connections(process.target, connections=4, calls=2)
        pids = [c.pid for c in children(process)]
        process.signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait) == 0
        stopped = [r for r in process.log_records() if r["event"].startswith("stopped")]
        assert [(r["event"], r.get("processes")) for r in stopped] == [("stopped cleanly", 2)]
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids
    )


async def test_server_processes_orphaned_while_starting_stop_once_started(
    tmp_path: Path,
) -> None:
    env = ServerProcess(
        {
            "TEXTLENS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
            "TEXTLENS_WORKERS": "2",
        },
        cwd=tmp_path,
    ).env
    supervisor = subprocess.Popen(  # noqa: ASYNC220 - returns at once
        [sys.executable, "-m", "server", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    orphans: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while len(orphans) < 2:
            assert time.monotonic() < deadline, "the server processes were not started"
            await asyncio.sleep(0.05)
            orphans = psutil.Process(supervisor.pid).children()
        supervisor.kill()  # the parent dies while its children are still loading
        supervisor.wait(10)
        _, alive = await asyncio.to_thread(psutil.wait_procs, orphans, timeout=90)
        assert alive == [], "a server process outlived its parent"
    finally:
        for orphan in orphans:
            if orphan.is_running():
                orphan.kill()


def _value(text: str, series: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(series + " "))
    return float(line.rsplit(" ", 1)[1])
