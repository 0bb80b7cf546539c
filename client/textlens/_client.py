"""AsyncClient: every TextLens RPC as an ``async`` method, with deadlines, retries and errors.

Each unary method goes through ``_unary``: the deadline is fixed once from ``timeout=``
and shrinks across attempts, retryable methods are retried by ``_retry``, and gRPC
failures become TextLensError subclasses in ``_errors.rpc_errors``.

``connect_timeout`` makes a client fail fast until it has first reached its server: the
first call waits at most that long for a connection, and a refused connection or an
unknown host fails at once instead of being retried for the whole deadline (the command
line uses 3 s). Once connected, failures are retried by the policy as usual, so a
server restart in the middle of a client's life is ridden out.
"""

# Per-call ``timeout=`` is gRPC's deadline, not an asyncio timeout: ASYNC109 does not apply.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import grpc.aio
from google.protobuf.message import Message

from textlens import _health
from textlens._channel import TLS, Keepalive, TokenSource, bearer, create_channel
from textlens._errors import TextLensError, Unavailable, rpc_errors
from textlens._retry import (
    SYSTEM_CLOCK,
    Clock,
    Retry,
    call_with_retry,
    deadline_after,
    next_wait,
    remaining,
)
from textlens._streaming import (
    ChunkSource,
    StreamInput,
    StreamResult,
    chunk_source,
    run_stream,
)
from textlens._stubs import Stubs
from textlens._values import (
    DEFAULT,
    TERMINAL_BATCH_STATUSES,
    AnalysisStatusLike,
    AnalysisTypeLike,
    BatchStatusLike,
    Default,
    analysis_status,
    analysis_type,
    batch_status,
)
from textlens.v1 import analysis_pb2, analysis_service_pb2, batch_pb2, batch_service_pb2

if TYPE_CHECKING:
    from grpc.aio import UnaryUnaryMultiCallable

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp")
Metadata = Sequence[tuple[str, str]]

DEFAULT_TIMEOUT = 30.0


def _request_id(given: str | None) -> str:
    # A key the server stores with the result makes a retried create return the
    # first result instead of storing a second one.
    return given if given else uuid.uuid4().hex


class AsyncClient:
    """An asyncio client for one TextLens server.

    Build it from a ``target`` ("host:port") with the connection options, or from a
    ready ``channel`` (a ``grpc.aio.Channel``, which the client then does not close).
    ``retry`` is the policy of retryable calls (``Retry()`` unless given; None turns
    retrying off). ``timeout`` is the default deadline in seconds of each unary call, retries
    included; every method also takes a keyword-only ``timeout=`` (None: no deadline).
    Streams (``analyze_stream``, ``watch_batch``) have no deadline unless given one.
    ``connect_timeout`` (seconds, None by default) makes calls fail fast until the
    server has first been reached: see the module's docstring.

    Use it as ``async with AsyncClient("localhost:50051") as client: ...`` or call
    ``await client.close()``.
    """

    def __init__(
        self,
        target: str | None = None,
        *,
        channel: grpc.aio.Channel | None = None,
        tls: TLS | bool = False,
        token: TokenSource | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: Retry | Default | None = DEFAULT,
        keepalive: Keepalive | None = None,
        options: Sequence[tuple[str, Any]] = (),
        metadata: Metadata = (),
        connect_timeout: float | None = None,
    ) -> None:
        if (target is None) == (channel is None):
            raise ValueError("AsyncClient needs a target or a channel, not both")
        if channel is not None and (tls or keepalive or options):
            raise ValueError("tls, keepalive and options configure a channel the client builds")
        self._target = target
        self._tls = tls
        self._token = token
        self._keepalive = keepalive
        self._options = tuple(options)
        self._channel = channel
        self._owns_channel = channel is None
        self._stubs_cache: Stubs | None = None
        # On a TLS channel the token travels as call credentials (see _channel).
        self._metadata_token = token if (channel is not None or tls is False) else None
        self._metadata = tuple(metadata)
        self._timeout = timeout
        self._retry = Retry() if retry is DEFAULT else retry
        self._clock: Clock = SYSTEM_CLOCK
        self._closed = False
        self._connect_timeout = connect_timeout
        self._reached = connect_timeout is None  # nothing to wait for without one

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> AsyncClient:
        self._stubs()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        """Closes the channel the client built; calls still running are cancelled."""
        self._closed = True
        if self._owns_channel and self._channel is not None:
            await self._channel.close(grace)

    def _stubs(self) -> Stubs:
        if self._closed:
            raise RuntimeError("the client is closed")
        if self._stubs_cache is None:
            if self._channel is None:
                assert self._target is not None
                self._channel = create_channel(
                    self._target,
                    tls=self._tls,
                    token=self._token,
                    keepalive=self._keepalive,
                    options=self._options,
                )
            self._stubs_cache = Stubs(self._channel)
        return self._stubs_cache

    # -- the one seam every call goes through --------------------------------------

    def _call_metadata(self, extra: Metadata) -> tuple[tuple[str, str], ...]:
        metadata = (*self._metadata, *extra)
        if self._metadata_token is not None:
            metadata = (*metadata, ("authorization", bearer(self._metadata_token)))
        return metadata

    def _deadline(self, timeout: float | Default | None) -> float | None:
        return deadline_after(self._timeout if timeout is DEFAULT else timeout, self._clock)

    def _policy(self, retry: Retry | Default | None) -> Retry | None:
        return self._retry if retry is DEFAULT else retry

    async def _connected(self, deadline: float | None) -> bool:
        """Until the server was first reached (with ``connect_timeout`` set): waits for a
        connection. False means gRPC already knows why there is none (refused, unknown
        host): the caller makes one attempt, which fails at once with that reason."""
        if self._reached:
            return True
        channel = self._stubs().channel
        assert self._connect_timeout is not None
        budget = self._connect_timeout
        left = remaining(deadline, self._clock)
        if left is not None:
            budget = min(budget, left)
        ends = self._clock.monotonic() + budget
        state = channel.get_state(try_to_connect=True)
        while state != grpc.ChannelConnectivity.READY:
            if state in (
                grpc.ChannelConnectivity.TRANSIENT_FAILURE,
                grpc.ChannelConnectivity.SHUTDOWN,
            ):
                return False
            try:
                async with asyncio.timeout(max(0.0, ends - self._clock.monotonic())):
                    await channel.wait_for_state_change(state)
            except TimeoutError:
                error = Unavailable(
                    f"cannot reach TextLens at {self._target or 'the target'} "
                    f"(no connection within {budget:g} s)"
                )
                error.unreachable = True
                raise error from None
            state = channel.get_state(try_to_connect=True)
        self._reached = True
        return True

    async def _unary(
        self,
        method: UnaryUnaryMultiCallable[Req, Resp],
        request: Req,
        *,
        timeout: float | Default | None,
        retry: Retry | Default | None,
        metadata: Metadata,
    ) -> Resp:
        target = self._target

        async def attempt(left: float | None) -> Resp:
            with rpc_errors(target):
                return await method(request, timeout=left, metadata=self._call_metadata(metadata))

        deadline = self._deadline(timeout)
        policy = self._policy(retry) if await self._connected(deadline) else None
        return await call_with_retry(attempt, retry=policy, deadline=deadline, clock=self._clock)

    # -- analyses ------------------------------------------------------------------

    async def create_analysis(
        self,
        text: str,
        *,
        analysis_type: AnalysisTypeLike,
        request_id: str | None = None,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> analysis_pb2.Analysis:
        """Analyses ``text`` now, stores and returns the analysis.

        ``request_id`` is the idempotency key; when not given the client makes one, so
        a retry after a lost answer returns the stored analysis instead of a second one.
        """
        request = analysis_service_pb2.CreateAnalysisRequest(
            text=text,
            analysis_type=_analysis_type(analysis_type),
            request_id=_request_id(request_id),
        )
        return await self._unary(
            self._stubs().create_analysis, request, timeout=timeout, retry=retry, metadata=metadata
        )

    async def get_analysis(
        self,
        analysis_id: str,
        *,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> analysis_pb2.Analysis:
        """The analysis with this id; NotFound if it does not exist for the caller."""
        request = analysis_service_pb2.GetAnalysisRequest(id=analysis_id)
        return await self._unary(
            self._stubs().get_analysis, request, timeout=timeout, retry=retry, metadata=metadata
        )

    async def list_analyses_page(
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
        """One page of analyses, with ``next_page_token`` (empty on the last page)."""
        request = analysis_service_pb2.ListAnalysesRequest(
            page_size=page_size,
            page_token=page_token,
            analysis_type=_analysis_type(analysis_type) if analysis_type is not None else None,
            status=analysis_status(status) if status is not None else None,
            batch_id=batch_id,
            order_by=order_by,
        )
        return await self._unary(
            self._stubs().list_analyses, request, timeout=timeout, retry=retry, metadata=metadata
        )

    async def list_analyses(
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
    ) -> AsyncGenerator[analysis_pb2.Analysis, None]:
        """Every matching analysis, fetching pages as iteration reaches them.

        ``timeout`` applies to each page. ``batch_id`` lists the results of a batch.
        """
        token = ""
        while True:
            page = await self.list_analyses_page(
                page_size=page_size,
                page_token=token,
                analysis_type=analysis_type,
                status=status,
                batch_id=batch_id,
                order_by=order_by,
                timeout=timeout,
                retry=retry,
                metadata=metadata,
            )
            for analysis in page.analyses:
                yield analysis
            token = page.next_page_token
            if not token:
                return

    async def delete_analysis(
        self,
        analysis_id: str,
        *,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> None:
        """Deletes an analysis; NotFound if there is none.

        Deleting is retried like a read: if an attempt whose answer was lost did
        delete the analysis, the retry reports NotFound, and the analysis is gone
        either way.
        """
        request = analysis_service_pb2.DeleteAnalysisRequest(id=analysis_id)
        await self._unary(
            self._stubs().delete_analysis, request, timeout=timeout, retry=retry, metadata=metadata
        )

    async def analyze_stream(
        self,
        texts: Iterable[StreamInput] | AsyncIterable[StreamInput],
        *,
        analysis_type: AnalysisTypeLike,
        batch_size: int = 100,
        max_in_flight: int = 1000,
        linger: float = 0.05,
        timeout: float | None = None,
        metadata: Metadata = (),
    ) -> AsyncGenerator[StreamResult, None]:
        """Analyses many texts over one AnalyzeStream call, yielding results in input order.

        ``texts`` holds plain texts (their ref is their index as a string) or
        ``(ref, text)`` pairs, as an iterable (read on the event loop, so it must not
        block) or an async iterable. Texts travel ``batch_size`` to a message; at most
        ``max_in_flight`` texts are read ahead of the results the caller has received.
        A rejected text yields a result with ``error`` set and the stream goes on; a
        failure of the whole call raises. Streams are not retried: their items carry
        no idempotency key.
        """
        source = chunk_source(texts, linger)
        async for result in self._analyze_source(
            source,
            analysis_type=analysis_type,
            batch_size=batch_size,
            max_in_flight=max_in_flight,
            timeout=timeout,
            metadata=metadata,
        ):
            yield result

    async def _analyze_source(
        self,
        source: ChunkSource,
        *,
        analysis_type: AnalysisTypeLike,
        batch_size: int,
        max_in_flight: int,
        timeout: float | None,
        metadata: Metadata,
    ) -> AsyncGenerator[StreamResult, None]:
        kind = _analysis_type(analysis_type)
        stubs = self._stubs()
        await self._connected(deadline_after(timeout, self._clock))
        async for result in run_stream(
            lambda: stubs.analyze_stream(
                None, timeout=timeout, metadata=self._call_metadata(metadata)
            ),
            source,
            analysis_type=kind,
            batch_size=batch_size,
            max_in_flight=max_in_flight,
            target=self._target,
        ):
            yield result

    # -- batches -------------------------------------------------------------------

    async def create_batch(
        self,
        texts: Iterable[str],
        *,
        analysis_type: AnalysisTypeLike,
        request_id: str | None = None,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> batch_pb2.Batch:
        """Stores a batch of texts for background analysis and returns it, PENDING.

        Results are read with ``list_analyses(batch_id=batch.id)``; progress with
        ``get_batch`` or ``watch_batch``. ``request_id`` as for ``create_analysis``.
        """
        if isinstance(texts, str):
            raise TypeError("create_batch takes an iterable of texts, not a single text")
        request = batch_service_pb2.CreateBatchRequest(
            analysis_type=_analysis_type(analysis_type),
            texts=list(texts),
            request_id=_request_id(request_id),
        )
        return await self._unary(
            self._stubs().create_batch, request, timeout=timeout, retry=retry, metadata=metadata
        )

    async def get_batch(
        self,
        batch_id: str,
        *,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> batch_pb2.Batch:
        """The batch with its current counters; NotFound if there is none."""
        request = batch_service_pb2.GetBatchRequest(id=batch_id)
        return await self._unary(
            self._stubs().get_batch, request, timeout=timeout, retry=retry, metadata=metadata
        )

    async def list_batches_page(
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
        """One page of batches, with ``next_page_token`` (empty on the last page)."""
        request = batch_service_pb2.ListBatchesRequest(
            page_size=page_size,
            page_token=page_token,
            status=batch_status(status) if status is not None else None,
            analysis_type=_analysis_type(analysis_type) if analysis_type is not None else None,
            order_by=order_by,
        )
        return await self._unary(
            self._stubs().list_batches, request, timeout=timeout, retry=retry, metadata=metadata
        )

    async def list_batches(
        self,
        *,
        page_size: int = 100,
        status: BatchStatusLike | None = None,
        analysis_type: AnalysisTypeLike | None = None,
        order_by: str = "",
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> AsyncGenerator[batch_pb2.Batch, None]:
        """Every matching batch, fetching pages as iteration reaches them."""
        token = ""
        while True:
            page = await self.list_batches_page(
                page_size=page_size,
                page_token=token,
                status=status,
                analysis_type=analysis_type,
                order_by=order_by,
                timeout=timeout,
                retry=retry,
                metadata=metadata,
            )
            for batch in page.batches:
                yield batch
            token = page.next_page_token
            if not token:
                return

    async def cancel_batch(
        self,
        batch_id: str,
        *,
        timeout: float | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> batch_pb2.Batch:
        """Cancels a batch and returns it; FailedPrecondition if it already finished.

        Not retried: had a lost answer's attempt cancelled it, the retry would fail
        with FailedPrecondition.
        """
        request = batch_service_pb2.CancelBatchRequest(id=batch_id)
        return await self._unary(
            self._stubs().cancel_batch, request, timeout=timeout, retry=None, metadata=metadata
        )

    async def watch_batch(
        self,
        batch_id: str,
        *,
        timeout: float | None = None,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> AsyncGenerator[batch_pb2.Batch, None]:
        """Snapshots of a batch: the current one at once, then one per change, until it
        finishes. A stream broken by UNAVAILABLE (a server restart) is reopened with
        backoff and carries on from the batch's current snapshot (not repeating the last
        one seen)."""
        deadline = deadline_after(timeout, self._clock)
        policy = self._policy(retry) if await self._connected(deadline) else None
        request = batch_service_pb2.WatchBatchRequest(id=batch_id)
        attempt = 0
        last: batch_pb2.Batch | None = None
        while True:
            attempt += 1
            call = self._stubs().watch_batch(
                request,
                timeout=remaining(deadline, self._clock),
                metadata=self._call_metadata(metadata),
            )
            finished = False
            try:
                with rpc_errors(self._target):
                    async for snapshot in call:
                        attempt = 0
                        finished = snapshot.status in TERMINAL_BATCH_STATUSES
                        if snapshot != last:  # a reopened watch repeats the last one
                            last = snapshot
                            yield snapshot
                return
            except TextLensError as error:
                if finished:
                    return
                error.attempts = max(attempt, 1)
                wait = next_wait(
                    error, error.attempts, retry=policy, deadline=deadline, clock=self._clock
                )
                if wait is None:
                    raise
                await self._clock.sleep(wait)
            finally:
                call.cancel()

    # -- health --------------------------------------------------------------------

    async def health(
        self,
        service: str = "",
        *,
        timeout: float | Default | None = DEFAULT,
        retry: Retry | Default | None = DEFAULT,
        metadata: Metadata = (),
    ) -> str:
        """The serving status of the server ("") or of one service: "SERVING",
        "NOT_SERVING", "UNKNOWN" or "SERVICE_UNKNOWN"."""
        response = await self._unary(
            self._stubs().health_check,
            _health.HealthCheckRequest(service=service),
            timeout=timeout,
            retry=retry,
            metadata=metadata,
        )
        return _health.status_name(response)


def _analysis_type(value: AnalysisTypeLike) -> analysis_pb2.AnalysisType:
    return analysis_type(value)
