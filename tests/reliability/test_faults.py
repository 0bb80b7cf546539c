"""Faults survived under load: PostgreSQL restarts, Redis killed, a server SIGKILLed mid-stream.

Each test counts what the clients were told and compares it with what the database holds:
nothing acknowledged is lost, nothing is stored twice.

Covered elsewhere, so not repeated here: a server SIGKILLed mid-batch and finished by the
next one (tests/integration/test_batch_processing.py), a create retried across a server
restart (tests/e2e/test_client_restart.py), and local rate limits enforced while Redis is
down (tests/integration/test_rate_limits_redis.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import grpc.aio
import pytest
from helpers.auth import authed_channel, make_token
from helpers.databases import fetch_all, temporary_database
from helpers.pgcluster import postgres_cluster
from helpers.process import ServerProcess
from helpers.redis import redis_server
from helpers.rpc import reason

from textlens.v1 import (
    analysis_pb2,
    analysis_service_pb2,
    analysis_service_pb2_grpc,
    batch_pb2,
    batch_service_pb2,
    batch_service_pb2_grpc,
)

pytestmark = pytest.mark.slow

CLIENTS = 8
CALL_DEADLINE = 30.0
# A failing call must come back in well under its deadline: the database being down is
# known at once (connection refused), not after the deadline.
FAILS_FAST = 5.0
DOWN_SECONDS = 3.0
TYPES = (
    analysis_pb2.ANALYSIS_TYPE_SENTIMENT,
    analysis_pb2.ANALYSIS_TYPE_QUALITY,
    analysis_pb2.ANALYSIS_TYPE_EMOTION,
)
TERMINAL = (
    batch_pb2.BATCH_STATUS_COMPLETED,
    batch_pb2.BATCH_STATUS_CANCELLED,
    batch_pb2.BATCH_STATUS_FAILED,
)


def migrate(url: str, cwd: Path) -> None:
    """``textlens-server migrate`` against ``url``, as an operator runs it before serving."""
    done = subprocess.run(
        [sys.executable, "-m", "server", "migrate"],
        env={**os.environ, "TEXTLENS_DATABASE_URL": url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def wait_until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Failure:
    started: float
    seconds: float
    code: grpc.StatusCode
    reason: str


@dataclass
class Ledger:
    """What the clients were told: request id -> analysis id, and every failed attempt."""

    created: dict[str, str] = field(default_factory=dict)
    requests: dict[str, analysis_service_pb2.CreateAnalysisRequest] = field(default_factory=dict)
    ok_times: list[float] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    # request id -> wall-clock time its first attempt failed
    first_failure: dict[str, float] = field(default_factory=dict)
    # request ids whose retry answered with an analysis stored before the failure came back
    replayed: set[str] = field(default_factory=set)

    def successes_since(self, moment: float) -> int:
        return sum(1 for t in self.ok_times if t >= moment)


def _reason(error: grpc.aio.AioRpcError) -> str:
    try:
        return str(reason(error))
    except (AssertionError, KeyError):
        return ""


async def creating_client(
    target: str, tenant: str, number: int, ledger: Ledger, stop: asyncio.Event
) -> None:
    """Creates analyses one after another, each with its own request id; a failed create is
    retried with the same request id until it succeeds, as a careful caller would."""
    async with authed_channel(target, make_token(tenant)) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        sequence = 0
        while not stop.is_set():
            request_id = f"{tenant}-{number}-{sequence}"
            request = analysis_service_pb2.CreateAnalysisRequest(
                text=f"Client {number} writes text {sequence}, and it is rather pleasant.",
                analysis_type=TYPES[sequence % len(TYPES)],
                request_id=request_id,
            )
            ledger.requests[request_id] = request
            give_up = time.monotonic() + 120
            while True:
                started = time.monotonic()
                try:
                    made = await stub.CreateAnalysis(request, timeout=CALL_DEADLINE)
                except grpc.aio.AioRpcError as error:
                    ledger.failures.append(
                        Failure(started, time.monotonic() - started, error.code(), _reason(error))
                    )
                    ledger.first_failure.setdefault(request_id, time.time())
                    if time.monotonic() > give_up:
                        raise
                    await asyncio.sleep(0.1)
                    continue
                break
            ledger.created[request_id] = made.id
            ledger.ok_times.append(time.monotonic())
            failed_at = ledger.first_failure.get(request_id)
            if failed_at is not None and made.create_time.ToMicroseconds() / 1e6 < failed_at:
                ledger.replayed.add(request_id)
            sequence += 1


@asynccontextmanager
async def creating_load(target: str, tenant: str, ledger: Ledger) -> AsyncIterator[None]:
    """CLIENTS creating clients for the body's duration; on the way out each finishes (and
    retries until it succeeds) the create it is on."""
    stop = asyncio.Event()
    clients = [
        asyncio.create_task(creating_client(target, tenant, n, ledger, stop))
        for n in range(CLIENTS)
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*clients), 180)


async def resend(
    target: str, tenant: str, ledger: Ledger, request_ids: list[str]
) -> dict[str, str]:
    """Sends answered creates again, as a caller does whose answer was lost on the way."""
    answers = {}
    async with authed_channel(target, make_token(tenant)) as channel:
        stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
        for request_id in request_ids:
            made = await stub.CreateAnalysis(ledger.requests[request_id], timeout=CALL_DEADLINE)
            answers[request_id] = made.id
    return answers


# "fast": a clean restart that aborts open transactions; "immediate": a crash and recovery.
@pytest.mark.parametrize("stop_mode", ["fast", "immediate"])
async def test_a_postgres_restart_under_unary_load_loses_and_duplicates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stop_mode: str
) -> None:
    tenant = "pg-restart"
    with postgres_cluster() as cluster:
        migrate(cluster.url, tmp_path)
        env = {"TEXTLENS_DATABASE_URL": cluster.url, "TEXTLENS_LOG_LEVEL": "WARNING"}
        with ServerProcess(env, cwd=tmp_path) as server:
            ledger = Ledger()
            async with creating_load(server.target, tenant, ledger):
                await wait_until(lambda: len(ledger.created) >= 200, 60, "load before the fault")
                down_at = time.monotonic()
                before = len(ledger.created)
                await asyncio.to_thread(cluster.stop, stop_mode)
                stopped_at = time.monotonic()
                await asyncio.sleep(DOWN_SECONDS)
                restarting_at = time.monotonic()
                await asyncio.to_thread(cluster.start)
                up_at = time.monotonic()
                # The same server process recovers by itself once PostgreSQL is back.
                await wait_until(
                    lambda: ledger.successes_since(up_at) >= 200, 60, "recovery after the restart"
                )
            # Creates retried through the outage, and a sample of the others, sent once more.
            again = sorted({*ledger.first_failure, *list(ledger.created)[::20]})
            answers = await resend(server.target, tenant, ledger, again)
            rows = await fetch_all(
                cluster.url,
                "SELECT request_id, id FROM analyses WHERE tenant = :tenant",
                tenant=tenant,
            )

    failures = ledger.failures
    down_failures = [f for f in failures if stopped_at <= f.started <= restarting_at]
    slowest = max((f.seconds for f in failures), default=0.0)
    last_failure = max((f.started + f.seconds for f in failures), default=up_at)
    codes = Counter(f"{f.code.name}/{f.reason}" for f in failures)
    stored = {str(request_id): str(row_id) for request_id, row_id in rows}
    per_key = Counter(str(request_id) for request_id, _ in rows)
    with capsys.disabled():
        print(
            f"\npg restart ({stop_mode}): {len(ledger.created)} created ({before} before the stop, "
            f"{ledger.successes_since(up_at)} after the start), {len(failures)} failed attempts "
            f"{dict(codes)} over {restarting_at - down_at:.1f} s down, "
            f"max failing-call latency {slowest:.2f} s, last failure "
            f"{last_failure - up_at:+.2f} s after PostgreSQL was back, "
            f"{len(ledger.first_failure)} request ids retried, "
            f"{len(ledger.replayed)} of them answered with a row stored by a failed attempt, "
            f"{len(again)} answered creates sent again, "
            f"rows {len(rows)} == successes {len(ledger.created)}: {stored == ledger.created}"
        )

    assert down_failures, "no call was made while PostgreSQL was down"
    # Calls in flight when the stop began may fail too, but none failed before it.
    assert all(f.started + f.seconds >= down_at for f in failures), "failed before the fault"
    assert {(f.code, f.reason) for f in failures} == {
        (grpc.StatusCode.UNAVAILABLE, "STORAGE_UNAVAILABLE")
    }, codes
    assert slowest < FAILS_FAST, f"a failing call took {slowest:.1f} s"
    assert ledger.successes_since(up_at) >= 200
    assert answers == {request_id: ledger.created[request_id] for request_id in again}
    # Nothing lost, nothing extra, one row per request id however often it was retried.
    assert set(per_key.values()) == {1}, [k for k, n in per_key.items() if n > 1]
    assert stored == ledger.created


async def batch_snapshots(target: str, batch_id: str, seen: list[batch_pb2.Batch]) -> list[str]:
    """Watches the batch to its end, watching again whenever the stream breaks; returns how
    each broken watch ended."""
    broken: list[str] = []
    async with authed_channel(target) as channel:
        stub = batch_service_pb2_grpc.BatchServiceStub(channel)
        while not seen or seen[-1].status not in TERMINAL:
            try:
                async for snapshot in stub.WatchBatch(
                    batch_service_pb2.WatchBatchRequest(id=batch_id), timeout=240
                ):
                    seen.append(snapshot)
            except grpc.aio.AioRpcError as error:
                broken.append(f"{error.code().name}/{_reason(error)}")
                await asyncio.sleep(0.2)
    return broken


async def test_a_postgres_restart_mid_batch_leaves_one_result_per_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = 3_000
    with postgres_cluster() as cluster:
        migrate(cluster.url, tmp_path)
        env = {
            "TEXTLENS_DATABASE_URL": cluster.url,
            "TEXTLENS_LOG_LEVEL": "WARNING",
            "TEXTLENS_BATCH_CHUNK_SIZE": "16",
            "TEXTLENS_BATCH_POLL_SECONDS": "0.2",
            # Items claimed when the database went away come back soon after it returns.
            "TEXTLENS_BATCH_LEASE_SECONDS": "3",
        }
        with ServerProcess(env, cwd=tmp_path) as server:
            async with authed_channel(server.target) as channel:
                batches = batch_service_pb2_grpc.BatchServiceStub(channel)
                batch = await batches.CreateBatch(
                    batch_service_pb2.CreateBatchRequest(
                        analysis_type=analysis_pb2.ANALYSIS_TYPE_SENTIMENT,
                        texts=[
                            f"Batch text {i} is good, though a little long." for i in range(total)
                        ],
                        request_id="restart-batch",
                    ),
                    timeout=60,
                )
                seen: list[batch_pb2.Batch] = []
                watcher = asyncio.create_task(batch_snapshots(server.target, batch.id, seen))
                await wait_until(
                    lambda: bool(seen) and seen[-1].completed_count >= 200, 120, "progress"
                )
                at_stop = seen[-1]
                await asyncio.to_thread(cluster.stop)
                started = time.monotonic()
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await batches.GetBatch(
                        batch_service_pb2.GetBatchRequest(id=batch.id), timeout=CALL_DEADLINE
                    )
                get_while_down = time.monotonic() - started
                await asyncio.sleep(DOWN_SECONDS)
                await asyncio.to_thread(cluster.start)
                restarted = time.monotonic()
                restarted_wall = time.time()
                broken = await asyncio.wait_for(watcher, 180)
                finished_in = time.monotonic() - restarted
                final = await batches.GetBatch(
                    batch_service_pb2.GetBatchRequest(id=batch.id), timeout=CALL_DEADLINE
                )
            per_item = await fetch_all(
                cluster.url,
                "SELECT batch_item, count(*) FROM analyses WHERE batch_id = :b GROUP BY batch_item",
                b=batch.id,
            )
            stored = await fetch_all(
                cluster.url,
                "SELECT status, count(*) FROM analyses WHERE batch_id = :b GROUP BY status",
                b=batch.id,
            )
            chunks = await fetch_all(
                cluster.url,
                "SELECT state, attempts, sum(item_count) FROM batch_chunks WHERE batch_id = :b "
                "GROUP BY state, attempts ORDER BY state, attempts",
                b=batch.id,
            )
            counters = await fetch_all(
                cluster.url,
                "SELECT status, total_count, completed_count, failed_count FROM batches "
                "WHERE id = :b",
                b=batch.id,
            )

    counts = [s.completed_count for s in seen]
    with capsys.disabled():
        print(
            f"\npg restart mid-batch: {total} texts, {at_stop.completed_count} done when "
            f"PostgreSQL stopped ({batch_pb2.BatchStatus.Name(at_stop.status)}), GetBatch while "
            f"down {caught.value.code().name} in {get_while_down:.2f} s, watch broke "
            f"{dict(Counter(broken))} and was opened again, "
            f"finished {finished_in:.1f} s after the restart, "
            f"{len(per_item)} items with results (results per item: "
            f"{dict(Counter(n for _, n in per_item))}), "
            f"chunks (state, attempts, items) {chunks}, counters {counters}"
        )

    assert at_stop.status == batch_pb2.BATCH_STATUS_RUNNING
    assert at_stop.completed_count < total
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert get_while_down < FAILS_FAST
    assert final.status == batch_pb2.BATCH_STATUS_COMPLETED
    # Finished only after PostgreSQL was back: the outage struck the batch mid-way.
    assert final.complete_time.ToMicroseconds() / 1e6 > restarted_wall
    assert (final.total_count, final.completed_count, final.failed_count) == (total, total, 0)
    assert counts == sorted(counts), "progress never goes backwards, across reconnects too"
    # Exactly one stored result per item, each item done, the counters match the rows.
    assert len(per_item) == total
    assert {item for item, _ in per_item} == set(range(total))
    assert {n for _, n in per_item} == {1}
    assert stored == [(analysis_pb2.ANALYSIS_STATUS_COMPLETED, total)]
    assert {state for state, _, _ in chunks} == {2}  # every chunk closed
    assert counters == [(batch_pb2.BATCH_STATUS_COMPLETED, total, total, 0)]


async def test_killing_redis_under_load_fails_no_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = "redis-kill"
    async with temporary_database() as url:
        with redis_server(tmp_path) as redis:
            env = {
                "TEXTLENS_DATABASE_URL": url,
                "TEXTLENS_REDIS_URL": redis.url,
                # Limited (so every call consults Redis) but never reached by this load.
                "TEXTLENS_RATE_LIMIT": "1000000/minute",
                "TEXTLENS_LOG_LEVEL": "WARNING",
            }
            with ServerProcess(env, cwd=tmp_path, args=("serve", "--migrate")) as server:
                ledger = Ledger()
                async with creating_load(server.target, tenant, ledger):
                    await wait_until(lambda: len(ledger.created) >= 200, 60, "load before")
                    before = len(ledger.created)
                    redis.kill()
                    killed_at = time.monotonic()
                    await wait_until(
                        lambda: ledger.successes_since(killed_at) >= 400, 60, "load after"
                    )
                warnings = [
                    str(r.get("event"))
                    for r in server.log_records()
                    if "redis unreachable" in str(r.get("event", ""))
                ]
        rows = await fetch_all(
            url, "SELECT request_id, id FROM analyses WHERE tenant = :tenant", tenant=tenant
        )

    stored = {str(request_id): str(row_id) for request_id, row_id in rows}
    with capsys.disabled():
        print(
            f"\nredis killed: {len(ledger.created)} created ({before} before the kill, "
            f"{ledger.successes_since(killed_at)} after), failed attempts "
            f"{dict(Counter(f.code.name for f in ledger.failures)) or 'none'}, "
            f"rows {len(rows)} == successes: {stored == ledger.created}, warnings {warnings}"
        )
    assert ledger.failures == []
    assert stored == ledger.created
    # The kill was noticed mid-load, and both the rate limiter and the cache fell back.
    assert any("rate limits are enforced per process" in w for w in warnings), warnings
    assert any("result cache is skipped" in w for w in warnings), warnings


async def test_a_server_sigkilled_mid_stream_keeps_every_acknowledged_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = "stream-kill"
    per_message = 25
    acked_before_kill = 40  # messages
    sent: dict[str, str] = {}  # ref -> text
    acked: dict[str, str] = {}  # ref -> analysis id
    item_errors: list[str] = []

    async def requests() -> AsyncIterator[analysis_service_pb2.AnalyzeStreamRequest]:
        # Far more than is read before the kill: flow control holds the rest back.
        for n in range(2_000):
            items = []
            for j in range(per_message):
                ref = f"m{n}-i{j}"
                sent[ref] = f"Streamed text {n}.{j} says the day was fine and calm."
                items.append(
                    analysis_service_pb2.AnalyzeStreamItem(
                        ref=ref, text=sent[ref], analysis_type=TYPES[(n + j) % len(TYPES)]
                    )
                )
            yield analysis_service_pb2.AnalyzeStreamRequest(items=items)

    async with temporary_database() as url:
        env = {"TEXTLENS_DATABASE_URL": url, "TEXTLENS_LOG_LEVEL": "WARNING"}
        victim = ServerProcess(env, cwd=tmp_path, args=("serve", "--migrate")).start()
        try:
            messages = 0
            async with authed_channel(victim.target, make_token(tenant)) as channel:
                stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)

                async def read_until_killed() -> None:
                    nonlocal messages
                    stream = stub.AnalyzeStream(requests(), timeout=120)
                    async for response in stream:
                        for result in response.results:
                            if result.WhichOneof("outcome") == "analysis":
                                acked[result.ref] = result.analysis.id
                                assert result.analysis.text == sent[result.ref]
                            else:
                                item_errors.append(f"{result.ref}: {result.error.message}")
                        messages += 1
                        if messages == acked_before_kill:
                            victim.signal(signal.SIGKILL)

                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await read_until_killed()
            assert await asyncio.to_thread(victim.wait) == -signal.SIGKILL
        finally:
            victim.kill()

        with ServerProcess(env, cwd=tmp_path) as successor:
            async with authed_channel(successor.target, make_token(tenant)) as channel:
                stub = analysis_service_pb2_grpc.AnalysisServiceStub(channel)
                refs = list(acked)
                readable: dict[str, str] = {}

                async def read(share: list[str]) -> None:
                    for ref in share:
                        got = await stub.GetAnalysis(
                            analysis_service_pb2.GetAnalysisRequest(id=acked[ref]),
                            timeout=CALL_DEADLINE,
                        )
                        readable[ref] = got.text

                await asyncio.gather(*(read(refs[n::CLIENTS]) for n in range(CLIENTS)))
        rows = await fetch_all(
            url, "SELECT id, text FROM analyses WHERE tenant = :tenant", tenant=tenant
        )

    texts = {str(row_id): str(text) for row_id, text in rows}
    per_text = Counter(texts.values())
    acked_ids = set(acked.values())
    unacked = [row_id for row_id in texts if row_id not in acked_ids]
    with capsys.disabled():
        print(
            f"\nsigkill mid-stream: {len(sent)} items handed to grpc, {messages} messages "
            f"({len(acked)} results) acknowledged, stream ended "
            f"{caught.value.code().name}, {len(readable)} readable after the restart, "
            f"{len(rows)} rows ({len(unacked)} stored but never acknowledged), "
            f"item errors {len(item_errors)}"
        )
    assert messages >= acked_before_kill
    assert item_errors == []
    # The connection dropped (UNAVAILABLE), or grpc's asyncio client, still writing requests
    # when it dropped, reported its own failed write instead (grpc/grpc#36066): a dead
    # server cannot send a status of its own.
    ended = caught.value
    assert ended.code() == grpc.StatusCode.UNAVAILABLE or (
        ended.code() == grpc.StatusCode.INTERNAL
        and ended.details() == "Internal error from Core"
        and "execute_batch" in (ended.debug_error_string() or "")
    ), ended
    # Every acknowledged result survived the kill, with the text it was acknowledged for.
    assert readable == {ref: sent[ref] for ref in acked}
    assert all(texts.get(analysis_id) == sent[ref] for ref, analysis_id in acked.items())
    # Nothing was stored twice, and nothing was stored that was not sent.
    assert set(per_text.values()) == {1}
    assert set(per_text) <= set(sent.values())
