"""Client: the AsyncClient behind a blocking interface.

Each Client runs one private event loop in a daemon thread and submits every call to
it. That keeps a single implementation of deadlines, retries, error translation and
stream packing (gRPC's synchronous API would need a second one), and makes a Client
safe to share between threads. The price is two thread hand-offs per call, a few tens
of microseconds, small next to a network round trip. Iterators (list_*, watch_batch,
analyze_stream) fetch each item through the loop; close them, or exhaust them, to end
their call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

import grpc.aio

from textlens._channel import TLS, Keepalive, TokenSource
from textlens._client import DEFAULT_TIMEOUT, AsyncClient, Metadata
from textlens._retry import Retry
from textlens._streaming import StreamInput, StreamResult, ThreadedSource
from textlens._values import (
    DEFAULT,
    AnalysisStatusLike,
    AnalysisTypeLike,
    BatchStatusLike,
    Default,
)
from textlens.v1 import analysis_pb2, analysis_service_pb2, batch_pb2, batch_service_pb2

T = TypeVar("T")
_END: Any = object()


async def _next(iterator: AsyncIterator[T]) -> T:
    return await anext(iterator, _END)


class SyncIterator(Generic[T], Iterator[T]):
    """A blocking view of one of the AsyncClient's async iterators."""

    def __init__(self, client: Client, iterator: AsyncIterator[T]) -> None:
        self._client = client
        self._iterator = iterator
        self._done = False

    def __iter__(self) -> SyncIterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        try:
            item = self._client._run(_next(self._iterator))
        except BaseException:
            self._done = True
            raise
        if item is _END:
            self._done = True
            raise StopIteration
        return item

    def close(self) -> None:
        """Ends the underlying call if iteration stopped early."""
        if not self._done:
            self._done = True
            aclose = getattr(self._iterator, "aclose", None)
            if aclose is not None and not self._client.closed:
                self._client._run(aclose())

    def __enter__(self) -> SyncIterator[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Client:
    """A blocking client for one TextLens server, with the AsyncClient's methods.

    Options are the AsyncClient's, except that a ready channel is passed as
    ``channel_factory``: a callable returning a ``grpc.aio.Channel``, called on the
    client's own event loop (grpc.aio channels belong to the loop they are made on).
    Use it as ``with Client("localhost:50051") as client: ...`` or call ``close()``.
    """

    def __init__(
        self,
        target: str | None = None,
        *,
        channel_factory: Callable[[], grpc.aio.Channel] | None = None,
        tls: TLS | bool = False,
        token: TokenSource | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: Retry | Default | None = DEFAULT,
        keepalive: Keepalive | None = None,
        options: Sequence[tuple[str, Any]] = (),
        metadata: Metadata = (),
        connect_timeout: float | None = None,
    ) -> None:
        if (target is None) == (channel_factory is None):
            raise ValueError("Client needs a target or a channel_factory, not both")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="textlens-client", daemon=True
        )
        self._thread.start()
        self.closed = False

        async def build() -> AsyncClient:
            client = AsyncClient(
                target,
                channel=channel_factory() if channel_factory is not None else None,
                tls=tls,
                token=token,
                timeout=timeout,
                retry=retry,
                keepalive=keepalive,
                options=options,
                metadata=metadata,
                connect_timeout=connect_timeout,
            )
            await client.__aenter__()
            return client

        try:
            self._async = self._run(build())
        except BaseException:
            self._stop_loop()
            raise

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self.closed:
            coroutine.close()
            raise RuntimeError("the client is closed")
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("a Client cannot be called from its own event loop")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            # Interrupted (Ctrl-C) while waiting: end the call instead of leaving it running.
            future.cancel()
            raise

    def _iterate(self, iterator: AsyncIterator[T]) -> SyncIterator[T]:
        return SyncIterator(self, iterator)

    def close(self) -> None:
        """Closes the channel and stops the client's event loop thread."""
        if self.closed:
            return
        try:
            self._run(self._async.close())
            # Iterators left open end here, on their loop, rather than at garbage collection.
            self._run(self._loop.shutdown_asyncgens())
        finally:
            self.closed = True
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- analyses ------------------------------------------------------------------

    def create_analysis(
        self,
        text: str,
        *,
        analysis_type: AnalysisTypeLike,
        request_id: str | None = None,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> analysis_pb2.Analysis:
        """See AsyncClient.create_analysis."""
        return self._run(
            self._async.create_analysis(
                text,
                analysis_type=analysis_type,
                request_id=request_id,
                timeout=timeout,
                retry=retry,
                metadata=metadata,
            )
        )

    def get_analysis(
        self,
        analysis_id: str,
        *,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> analysis_pb2.Analysis:
        """See AsyncClient.get_analysis."""
        return self._run(
            self._async.get_analysis(analysis_id, timeout=timeout, retry=retry, metadata=metadata)
        )

    def list_analyses_page(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        analysis_type: AnalysisTypeLike | None = None,
        status: AnalysisStatusLike | None = None,
        batch_id: str = "",
        order_by: str = "",
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> analysis_service_pb2.ListAnalysesResponse:
        """See AsyncClient.list_analyses_page."""
        return self._run(
            self._async.list_analyses_page(
                page_size=page_size,
                page_token=page_token,
                analysis_type=analysis_type,
                status=status,
                batch_id=batch_id,
                order_by=order_by,
                timeout=timeout,
                retry=retry,
                metadata=metadata,
            )
        )

    def list_analyses(
        self,
        *,
        page_size: int = 100,
        analysis_type: AnalysisTypeLike | None = None,
        status: AnalysisStatusLike | None = None,
        batch_id: str = "",
        order_by: str = "",
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> SyncIterator[analysis_pb2.Analysis]:
        """See AsyncClient.list_analyses."""
        return self._iterate(
            self._async.list_analyses(
                page_size=page_size,
                analysis_type=analysis_type,
                status=status,
                batch_id=batch_id,
                order_by=order_by,
                timeout=timeout,
                retry=retry,
                metadata=metadata,
            )
        )

    def delete_analysis(
        self,
        analysis_id: str,
        *,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> None:
        """See AsyncClient.delete_analysis."""
        self._run(
            self._async.delete_analysis(
                analysis_id, timeout=timeout, retry=retry, metadata=metadata
            )
        )

    def analyze_stream(
        self,
        texts: Iterable[StreamInput],
        *,
        analysis_type: AnalysisTypeLike,
        batch_size: int = 100,
        max_in_flight: int = 1000,
        timeout: float | None = None,
        metadata: Metadata = (),
    ) -> SyncIterator[StreamResult]:
        """See AsyncClient.analyze_stream. ``texts`` is read in a worker thread, a
        message's worth at a time, so it may block (a pipe, a socket)."""
        return self._iterate(
            self._async._analyze_source(
                ThreadedSource(texts),
                analysis_type=analysis_type,
                batch_size=batch_size,
                max_in_flight=max_in_flight,
                timeout=timeout,
                metadata=metadata,
            )
        )

    # -- batches -------------------------------------------------------------------

    def create_batch(
        self,
        texts: Iterable[str],
        *,
        analysis_type: AnalysisTypeLike,
        request_id: str | None = None,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> batch_pb2.Batch:
        """See AsyncClient.create_batch."""
        return self._run(
            self._async.create_batch(
                texts,
                analysis_type=analysis_type,
                request_id=request_id,
                timeout=timeout,
                retry=retry,
                metadata=metadata,
            )
        )

    def get_batch(
        self,
        batch_id: str,
        *,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> batch_pb2.Batch:
        """See AsyncClient.get_batch."""
        return self._run(
            self._async.get_batch(batch_id, timeout=timeout, retry=retry, metadata=metadata)
        )

    def list_batches_page(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        status: BatchStatusLike | None = None,
        analysis_type: AnalysisTypeLike | None = None,
        order_by: str = "",
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> batch_service_pb2.ListBatchesResponse:
        """See AsyncClient.list_batches_page."""
        return self._run(
            self._async.list_batches_page(
                page_size=page_size,
                page_token=page_token,
                status=status,
                analysis_type=analysis_type,
                order_by=order_by,
                timeout=timeout,
                retry=retry,
                metadata=metadata,
            )
        )

    def list_batches(
        self,
        *,
        page_size: int = 100,
        status: BatchStatusLike | None = None,
        analysis_type: AnalysisTypeLike | None = None,
        order_by: str = "",
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> SyncIterator[batch_pb2.Batch]:
        """See AsyncClient.list_batches."""
        return self._iterate(
            self._async.list_batches(
                page_size=page_size,
                status=status,
                analysis_type=analysis_type,
                order_by=order_by,
                timeout=timeout,
                retry=retry,
                metadata=metadata,
            )
        )

    def cancel_batch(
        self,
        batch_id: str,
        *,
        timeout: float | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> batch_pb2.Batch:
        """See AsyncClient.cancel_batch."""
        return self._run(self._async.cancel_batch(batch_id, timeout=timeout, metadata=metadata))

    def watch_batch(
        self,
        batch_id: str,
        *,
        timeout: float | None = None,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> SyncIterator[batch_pb2.Batch]:
        """See AsyncClient.watch_batch."""
        return self._iterate(
            self._async.watch_batch(batch_id, timeout=timeout, retry=retry, metadata=metadata)
        )

    # -- health --------------------------------------------------------------------

    def health(
        self,
        service: str = "",
        *,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> str:
        """See AsyncClient.health."""
        return self._run(
            self._async.health(service, timeout=timeout, retry=retry, metadata=metadata)
        )
