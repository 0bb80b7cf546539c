"""Load from a real gRPC client: the unary status check, AnalyzeStream and CreateBatch phases.

Streams go through raw multicallables with pre-serialized request messages, so that the
client spends as little of the shared CPU as it can; batches go through AsyncClient.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import grpc
import grpc.aio

from textlens import AsyncClient, FailedPrecondition, TextLensError
from textlens.v1 import analysis_pb2, analysis_service_pb2, batch_pb2

CREATE = "/textlens.v1.AnalysisService/CreateAnalysis"
STREAM = "/textlens.v1.AnalysisService/AnalyzeStream"
SENTIMENT = analysis_pb2.ANALYSIS_TYPE_SENTIMENT
MESSAGE_LIMIT = 64 * 1024 * 1024
CANCEL_ATTEMPTS = 3
Metadata = tuple[tuple[str, str], ...]


def open_channel(target: str) -> grpc.aio.Channel:
    """A channel with a connection of its own (channels share one by default), so that
    several of them spread over server processes that share the port."""
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.max_receive_message_length", MESSAGE_LIMIT),
            ("grpc.max_send_message_length", MESSAGE_LIMIT),
        ],
    )


async def check_unary(
    target: str, request: bytes, metadata: Metadata, calls: int = 24, channels: int = 8
) -> Counter[str]:
    """Sends the exact request body that h2load sends and counts the grpc-status codes."""
    codes: Counter[str] = Counter()
    opened = [open_channel(target) for _ in range(channels)]
    try:
        for i in range(calls):
            method = opened[i % channels].unary_unary(
                CREATE, response_deserializer=analysis_pb2.Analysis.FromString
            )
            try:
                analysis = await method(request, metadata=metadata, timeout=30)
                ok = analysis.status == analysis_pb2.ANALYSIS_STATUS_COMPLETED
                codes["OK" if ok else "OK_NOT_COMPLETED"] += 1
            except grpc.aio.AioRpcError as exc:
                codes[exc.code().name] += 1
    finally:
        await asyncio.gather(*(c.close() for c in opened))
    return codes


def stream_message(texts: Sequence[str], first_ref: int = 0) -> bytes:
    items = [
        analysis_service_pb2.AnalyzeStreamItem(
            ref=str(first_ref + i), text=t, analysis_type=SENTIMENT
        )
        for i, t in enumerate(texts)
    ]
    return analysis_service_pb2.AnalyzeStreamRequest(items=items).SerializeToString()


@dataclass
class StreamRun:
    texts: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    messages: int = 0
    client_cpu_seconds: float = 0.0
    ids: list[str] = field(default_factory=list)


async def _one_stream(
    target: str,
    metadata: Metadata,
    next_message: Callable[[], bytes | None],
    deadline: float,
    in_flight: int,
    run: StreamRun,
) -> None:
    channel = open_channel(target)
    call = channel.stream_stream(
        STREAM, response_deserializer=analysis_service_pb2.AnalyzeStreamResponse.FromString
    )(metadata=metadata)
    window = asyncio.Semaphore(in_flight)

    async def write() -> None:
        while time.monotonic() < deadline:
            await window.acquire()
            message = next_message()
            if message is None:
                break
            await call.write(message)
            run.messages += 1
        await call.done_writing()

    writer = asyncio.create_task(write())
    try:
        async for response in call:
            window.release()
            if response.HasField("error"):
                run.errors[f"message: {response.error.message}"] += 1
                continue
            for result in response.results:
                run.texts += 1
                if result.HasField("error"):
                    run.errors[result.error.message[:80]] += 1
                else:
                    run.ok += 1
                    run.ids.append(result.analysis.id)
        await writer
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await channel.close()


async def stream_phase(
    target: str,
    metadata: Metadata,
    next_message: Callable[[], bytes | None],
    *,
    streams: int,
    in_flight: int,
    duration: float,
) -> StreamRun:
    """``streams`` concurrent AnalyzeStream calls writing until ``duration`` has passed
    (or the messages run out), each with at most ``in_flight`` messages unanswered."""
    run = StreamRun()
    cpu = time.process_time()
    start = time.monotonic()
    deadline = start + duration
    outcomes = await asyncio.gather(
        *(
            _one_stream(target, metadata, next_message, deadline, in_flight, run)
            for _ in range(streams)
        ),
        return_exceptions=True,
    )
    run.seconds = time.monotonic() - start
    run.client_cpu_seconds = time.process_time() - cpu
    for outcome in outcomes:
        if isinstance(outcome, grpc.aio.AioRpcError):
            run.errors[f"stream {outcome.code().name}: {outcome.details()}"] += 1
        elif isinstance(outcome, BaseException):
            run.errors[f"stream {type(outcome).__name__}: {outcome}"] += 1
    return run


@dataclass
class BatchRun:
    texts: int = 0
    batches: list[str] = field(default_factory=list)
    submit_seconds: float = 0.0
    seconds: float = 0.0
    completed: int = 0
    failed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    timed_out: bool = False
    cancel_errors: list[str] = field(default_factory=list)
    client_cpu_seconds: float = 0.0


async def _watch(
    client: AsyncClient, batch_id: str, started: float
) -> tuple[float, batch_pb2.Batch]:
    last = None
    async for snapshot in client.watch_batch(batch_id):
        last = snapshot
    assert last is not None
    return time.monotonic() - started, last


async def batch_phase(
    target: str, token: str | None, chunks: Iterable[list[str]], *, time_limit: float
) -> BatchRun:
    """Creates one batch per chunk, one after the other, and watches all of them until
    every one has finished: seconds from the first CreateBatch to the last terminal state.

    Past ``time_limit`` the unfinished batches are read and cancelled, and the figures are
    those of the work done by then (``timed_out`` is set)."""
    run = BatchRun()
    options = [("grpc.max_send_message_length", MESSAGE_LIMIT)]
    async with AsyncClient(target, token=token, timeout=300, options=options) as client:
        cpu = time.process_time()
        start = time.monotonic()
        watchers: dict[asyncio.Task[tuple[float, batch_pb2.Batch]], str] = {}
        for chunk in chunks:
            batch = await client.create_batch(chunk, analysis_type="sentiment")
            run.texts += len(chunk)
            run.batches.append(batch.id)
            watchers[asyncio.create_task(_watch(client, batch.id, start))] = batch.id
        run.submit_seconds = time.monotonic() - start
        left = max(1.0, time_limit - run.submit_seconds)
        done, pending = await asyncio.wait(watchers, timeout=left)
        snapshots = []
        for task in done:
            finished, snapshot = task.result()
            run.seconds = max(run.seconds, finished)
            snapshots.append(snapshot)
        if pending:
            run.timed_out = True
            run.seconds = time.monotonic() - start
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in pending:
                snapshots.append(await _stop(client, watchers[task], run))
        for snapshot in snapshots:
            run.completed += snapshot.completed_count
            run.failed += snapshot.failed_count
            run.statuses[batch_pb2.BatchStatus.Name(snapshot.status)] += 1
        run.client_cpu_seconds = time.process_time() - cpu
    return run


async def _stop(client: AsyncClient, batch_id: str, run: BatchRun) -> batch_pb2.Batch:
    """Out of time: the batch as it stands, then cancelled, so that later phases run alone.
    A cancel that fails is tried again, and its errors are kept with the run."""
    snapshot = await client.get_batch(batch_id)
    for _ in range(CANCEL_ATTEMPTS):
        try:
            await client.cancel_batch(batch_id)
        except FailedPrecondition:
            break  # it finished meanwhile
        except TextLensError as exc:
            run.cancel_errors.append(f"CancelBatch {type(exc).__name__}: {exc}"[:300])
            await asyncio.sleep(0.5)
        else:
            break
    return snapshot
