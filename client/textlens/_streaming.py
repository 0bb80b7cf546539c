"""AnalyzeStream for callers: packs texts into messages and keeps a bounded number in flight.

gRPC Python spends roughly 100-200 µs per streamed message, more than scoring a short
text, so texts travel ``batch_size`` to a message (and at most about 1 MiB of text, so
that neither the request nor its answer nears the server's 16 MiB message limit). The
server answers each request message with one response, results in order; the writer
may run ahead of the reader by ``max_in_flight`` items, counting every item taken
from the input whose result the caller has not yet received, so memory stays bounded
whatever the length of the input.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import grpc
import grpc.aio

from textlens._errors import ProtocolError, TextLensError, from_status, rpc_errors
from textlens.v1 import analysis_pb2, analysis_service_pb2

if TYPE_CHECKING:
    from grpc.aio import StreamStreamCall

    StreamCall = StreamStreamCall[
        analysis_service_pb2.AnalyzeStreamRequest, analysis_service_pb2.AnalyzeStreamResponse
    ]

#: One input of analyze_stream: a text, or a (ref, text) pair.
StreamInput = str | tuple[str, str]

# grpc-stubs predates grpc.aio.EOF, the end-of-stream marker of read().
_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]

MAX_ITEMS_PER_MESSAGE = 1000
MAX_MESSAGE_TEXT_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class StreamResult:
    """The outcome of one streamed text: its stored analysis, or why it was rejected."""

    #: Position of the text in the input, from 0.
    index: int
    #: The caller's ref, or str(index) for a plain text.
    ref: str
    analysis: analysis_pb2.Analysis | None
    error: TextLensError | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Item:
    index: int
    ref: str
    text: str


def _item(index: int, value: object) -> Item:
    if isinstance(value, str):
        return Item(index, str(index), value)
    if isinstance(value, tuple) and len(value) == 2:
        ref, text = value
        if isinstance(ref, str) and isinstance(text, str):
            return Item(index, ref, text)
    raise TypeError(f"analyze_stream input {index} is not a text or a (ref, text) pair")


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class ChunkSource(Protocol):
    """Hands out the input a message at a time; an empty chunk means the input is over."""

    async def take(self, max_items: int, max_bytes: int) -> list[Item]: ...

    async def aclose(self) -> None: ...


class _Counter:
    def __init__(self) -> None:
        self._next = itertools.count()

    def __call__(self) -> int:
        return next(self._next)


def _take_from(iterator: Iterator[object], counter: _Counter, n: int, max_bytes: int) -> list[Item]:
    chunk: list[Item] = []
    size = 0
    while len(chunk) < n and size < max_bytes:
        value = next(iterator, _END)
        if value is _END:
            break
        item = _item(counter(), value)
        chunk.append(item)
        size += _size(item.text)
    return chunk


_END = object()


class SyncSource:
    """A plain iterable, read on the event loop: it must not block for long."""

    def __init__(self, iterable: Iterable[object]) -> None:
        self._iterator = iter(iterable)
        self._counter = _Counter()

    async def take(self, max_items: int, max_bytes: int) -> list[Item]:
        return _take_from(self._iterator, self._counter, max_items, max_bytes)

    async def aclose(self) -> None:
        return None


class ThreadedSource(SyncSource):
    """A plain iterable read in a worker thread, a chunk per hop: it may block (stdin)."""

    async def take(self, max_items: int, max_bytes: int) -> list[Item]:
        return await asyncio.to_thread(
            _take_from, self._iterator, self._counter, max_items, max_bytes
        )


class AsyncSource:
    """An async iterable. A chunk goes out when full, or ``linger`` seconds after its
    first text if the input has nothing more ready, so a slow trickle is not held back."""

    def __init__(self, iterable: AsyncIterable[object], linger: float) -> None:
        self._iterator = aiter(iterable)
        self._linger = linger
        self._counter = _Counter()
        self._pending: asyncio.Future[object] | None = None
        self._done = False

    async def _next(self) -> object:
        return await anext(self._iterator, _END)

    async def take(self, max_items: int, max_bytes: int) -> list[Item]:
        loop = asyncio.get_running_loop()
        chunk: list[Item] = []
        size = 0
        flush_at = 0.0
        while len(chunk) < max_items and size < max_bytes and not self._done:
            if self._pending is None:
                self._pending = asyncio.ensure_future(self._next())
            if chunk:
                done, _ = await asyncio.wait({self._pending}, timeout=flush_at - loop.time())
                if not done:
                    break
            else:
                await asyncio.wait({self._pending})
                flush_at = loop.time() + self._linger
            value = self._pending.result()
            self._pending = None
            if value is _END:
                self._done = True
                break
            item = _item(self._counter(), value)
            chunk.append(item)
            size += _size(item.text)
        return chunk

    async def aclose(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


def chunk_source(texts: object, linger: float) -> ChunkSource:
    if isinstance(texts, SyncSource | AsyncSource):
        return texts
    if isinstance(texts, str | bytes):
        raise TypeError("analyze_stream takes an iterable of texts, not a single text")
    if isinstance(texts, AsyncIterable):
        return AsyncSource(texts, linger)
    if isinstance(texts, Iterable):
        return SyncSource(texts)
    raise TypeError("analyze_stream takes an iterable or an async iterable of texts")


async def run_stream(
    open_call: Callable[[], StreamCall],
    source: ChunkSource,
    *,
    analysis_type: analysis_pb2.AnalysisType,
    batch_size: int,
    max_in_flight: int,
    max_message_bytes: int = MAX_MESSAGE_TEXT_BYTES,
    target: str | None = None,
) -> AsyncIterator[StreamResult]:
    """Drives one AnalyzeStream call; see the module docstring."""
    if not 1 <= batch_size <= MAX_ITEMS_PER_MESSAGE:
        raise ValueError(f"batch_size must be 1 to {MAX_ITEMS_PER_MESSAGE}")
    if max_in_flight < 1:
        raise ValueError("max_in_flight must be at least 1")
    batch_size = min(batch_size, max_in_flight)
    window = asyncio.Semaphore(max_in_flight // batch_size)
    sent: deque[list[Item]] = deque()
    call = open_call()

    async def write_all() -> None:
        while True:
            await window.acquire()
            chunk = await source.take(batch_size, max_message_bytes)
            if not chunk:
                break
            sent.append(chunk)
            await call.write(
                analysis_service_pb2.AnalyzeStreamRequest(
                    items=[
                        analysis_service_pb2.AnalyzeStreamItem(
                            ref=item.ref, text=item.text, analysis_type=analysis_type
                        )
                        for item in chunk
                    ]
                )
            )
        await call.done_writing()

    writer = asyncio.create_task(write_all())
    try:
        while True:
            response = await _read(call, writer, target)
            if response is _EOF:
                break
            if not sent:
                raise ProtocolError("AnalyzeStream answered a message that was never sent")
            for result in _results(sent.popleft(), response):
                yield result
            window.release()
        if sent:
            raise ProtocolError("AnalyzeStream ended before answering every message")
        await writer
    finally:
        writer.cancel()
        call.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await source.aclose()


def _results(
    chunk: list[Item], response: analysis_service_pb2.AnalyzeStreamResponse
) -> list[StreamResult]:
    """The results of one request message, checked against what was sent."""
    if response.HasField("error"):
        raise from_status(response.error)
    if len(response.results) != len(chunk):
        raise ProtocolError(
            f"AnalyzeStream answered {len(chunk)} items with {len(response.results)} results"
        )
    results = []
    for item, result in zip(chunk, response.results, strict=True):
        if result.ref != item.ref:
            raise ProtocolError(f"AnalyzeStream answered {item.ref!r} as {result.ref!r}")
        if result.HasField("error"):
            results.append(StreamResult(item.index, item.ref, None, from_status(result.error)))
        else:
            results.append(StreamResult(item.index, item.ref, result.analysis, None))
    return results


def _input_failure(writer: asyncio.Task[None]) -> BaseException | None:
    """The writer's failure if it came from the input rather than from the call."""
    if writer.done() and not writer.cancelled():
        failure = writer.exception()
        if failure is not None and not isinstance(failure, grpc.RpcError):
            return failure
    return None


async def _read(call: StreamCall, writer: asyncio.Task[None], target: str | None) -> Any:
    """The next response; if the input fails first, that failure, with the call cancelled."""
    failure = _input_failure(writer)
    if failure is not None:
        raise failure
    with rpc_errors(target):
        if writer.done():
            return await call.read()
        reading = asyncio.ensure_future(call.read())
        await asyncio.wait({reading, writer}, return_when=asyncio.FIRST_COMPLETED)
        failure = _input_failure(writer)
        if failure is not None and not reading.done():
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            raise failure
        return await reading
