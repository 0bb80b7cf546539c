"""The streaming use case: many texts per message, results in order, stored in groups."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog

from server.domain.errors import (
    ErrorReason,
    FieldViolation,
    InvalidArgument,
    ResourceExhausted,
    TextLensError,
)
from server.domain.language import Language, Languages
from server.domain.model import Analysis, AnalysisType
from server.domain.validation import validate_analysis_request
from server.service.analyst import Analyst, Job
from server.service.concurrency import TenantActivity, TenantSlots, off_loop_if_long
from server.service.ports import Metrics, NoLimit, NoMetrics, RateLimiter, UnitOfWorkFactory

log = structlog.get_logger("textlens.streaming")

MAX_ITEMS_PER_MESSAGE = 1_000
# An item whose row the database refused (INTERNAL); its cause is in the server's log.
NOT_STORED = TextLensError(
    "this item could not be stored; quote the x-request-id trailer when reporting it",
    reason=ErrorReason.INTERNAL,
)
# Messages analysed ahead of the one being answered. Small on purpose: when the client
# stops reading, the server stops reading after this many, so memory stays bounded.
PIPELINE_DEPTH = 2
# Messages of one tenant being analysed, stored or encoded at once in a process, all its
# streams together. Each one hands the event loop back every few milliseconds, so this
# many slices of a tenant's stream work stand between two turns of everybody else's calls.
MESSAGES_PER_TENANT = 1


@dataclass(frozen=True, slots=True)
class StreamItem:
    ref: str
    text: str
    analysis_type: AnalysisType | FieldViolation
    language_code: str = ""


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One item's answer: the stored analysis, or why the item was rejected."""

    ref: str
    analysis: Analysis | None = None
    error: TextLensError | None = None


# A message's answer: one outcome per item, or an error for the whole message.
MessageOutcome = list[ItemOutcome] | InvalidArgument
Answer = TypeVar("Answer")


async def _as_is(outcome: MessageOutcome) -> MessageOutcome:
    return outcome


class AnswerSize(Protocol):
    """Sizes a message's answer against what the transport may send (``limit`` bytes)."""

    limit: int

    async def of(self, outcomes: Sequence[ItemOutcome]) -> int:
        """The answer's size, or a bound of it when that is under the limit."""
        ...


class _Unbounded:
    limit = 2**63

    async def of(self, outcomes: Sequence[ItemOutcome]) -> int:
        return 0


def answer_too_large(count: int, size: int, limit: int) -> InvalidArgument:
    return InvalidArgument(
        [
            FieldViolation(
                "items",
                f"the answer to these {count} items would take {size:,} bytes, over the "
                f"{limit:,}-byte message limit; nothing was stored: send fewer or shorter "
                "items per message",
                ErrorReason.STREAM_MESSAGE_TOO_LARGE,
            )
        ]
    )


@dataclass(slots=True)
class _End:
    error: BaseException | None = None


def message_violation(count: int) -> InvalidArgument | None:
    if count == 0:
        return InvalidArgument(
            [
                FieldViolation(
                    "items", "must hold at least one item", ErrorReason.STREAM_MESSAGE_EMPTY
                )
            ]
        )
    if count > MAX_ITEMS_PER_MESSAGE:
        return InvalidArgument(
            [
                FieldViolation(
                    "items",
                    f"holds {count} items; the maximum is {MAX_ITEMS_PER_MESSAGE}",
                    ErrorReason.STREAM_MESSAGE_TOO_LARGE,
                )
            ]
        )
    return None


class StreamUseCases:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        analyst: Analyst,
        *,
        max_text_chars: int,
        limiter: RateLimiter | None = None,
        metrics: Metrics | None = None,
        pipeline_depth: int = PIPELINE_DEPTH,
        languages: Languages | None = None,
        answer_size: AnswerSize | None = None,
        messages_per_tenant: int = MESSAGES_PER_TENANT,
        tenant_share: float = 1.0,
        activity: TenantActivity | None = None,
    ) -> None:
        # A message whose answer could not be sent is refused before anything is stored:
        # stored rows whose ids never reach the client would be charged and orphaned.
        self._answer_size = answer_size or _Unbounded()
        self._uow = uow
        self._languages = languages or Languages()
        self._limiter = limiter or NoLimit()
        self._metrics = metrics or NoMetrics()
        self._analyst = analyst
        self._max_text_chars = max_text_chars
        self._depth = pipeline_depth
        # A tenant's streams take turns: however many it opens, its messages hold the
        # event loop no longer than this many would, and its further messages wait (and
        # with them the reading of its streams) instead of delaying other tenants' calls.
        # While other tenants make calls, its messages take at most ``tenant_share`` of
        # the time: the rest of the process's CPU is theirs.
        self._slots = TenantSlots(messages_per_tenant, share=tenant_share, activity=activity)

    async def analyze_message(self, tenant: str, items: Sequence[StreamItem]) -> MessageOutcome:
        """Validates, charges and analyses one message's items (nothing stored yet)."""
        message_error = message_violation(len(items))
        if message_error is not None:
            return message_error
        # Checking long texts (language detection above all) takes milliseconds each.
        chars = sum(len(item.text) for item in items)
        checked = await off_loop_if_long(chars, functools.partial(self._check, items))
        valid = sum(1 for c in checked if not isinstance(c, InvalidArgument))
        admitted, over_limit = await self._admit(tenant, valid)
        jobs: list[Job] = []
        for check in checked:
            if not isinstance(check, InvalidArgument) and len(jobs) < admitted:
                text, kind, language = check
                jobs.append(Job(text, kind, language=language))
        analyses = iter(await self._analyst.run(tenant, jobs))
        outcomes = []
        for item, check in zip(items, checked, strict=True):
            if isinstance(check, InvalidArgument):
                outcomes.append(ItemOutcome(item.ref, error=check))
            elif admitted == 0:
                outcomes.append(ItemOutcome(item.ref, error=over_limit))
            else:
                admitted -= 1
                outcomes.append(ItemOutcome(item.ref, analysis=next(analyses)))
        # Known only once analysed (sentences travel back too), but before any storing.
        size = await self._answer_size.of(outcomes)
        if size > self._answer_size.limit:
            return answer_too_large(len(items), size, self._answer_size.limit)
        return outcomes

    def _check(
        self, items: Sequence[StreamItem]
    ) -> list[tuple[str, AnalysisType, Language] | InvalidArgument]:
        checked: list[tuple[str, AnalysisType, Language] | InvalidArgument] = []
        for item in items:
            try:
                text, kind, _ = validate_analysis_request(
                    item.text, item.analysis_type, "", self._max_text_chars
                )
                stated = self._languages.stated(item.language_code)
                checked.append((text, kind, self._languages.of(text, stated)))
            except InvalidArgument as error:
                checked.append(error)
        return checked

    async def _admit(self, tenant: str, count: int) -> tuple[int, ResourceExhausted | None]:
        """How many of ``count`` texts the tenant's budget admits, in order, and the error
        for the rest: all at once when they fit, else in halving steps, so that a message
        over budget costs a few calls to the limiter (a Redis round trip each), not one
        per item."""
        admitted, step, refused = 0, count, None
        while step > 0 and admitted < count:
            try:
                await self._limiter.acquire(tenant, step)
            except ResourceExhausted as error:
                refused = error
                step //= 2
            else:
                admitted += step
                step = min(step, count - admitted)
        return admitted, (refused if admitted < count else None)

    def _give_back(self, tenant: str, taken: float, _: object) -> None:
        self._slots.release(tenant, taken)

    async def store(self, outcome: MessageOutcome) -> MessageOutcome:
        """Stores a message's analyses in one multi-row insert; if storage is down, each of
        them becomes that error instead (the stream goes on)."""
        if isinstance(outcome, InvalidArgument):
            return outcome
        analyses = [o.analysis for o in outcome if o.analysis is not None]
        if not analyses:
            return outcome
        try:
            async with self._uow() as uow:
                await uow.analyses.add_many(analyses)
                await uow.commit()
        except TextLensError as error:
            return [ItemOutcome(o.ref, error=o.error or error) for o in outcome]
        except Exception:  # a row the database refused: logged once, then isolated
            log.exception("stream insert failed: storing its rows one by one")
            return await self._store_each(outcome)
        self._metrics.analyses_stored(analyses)
        return outcome

    async def _store_each(self, outcome: list[ItemOutcome]) -> list[ItemOutcome]:
        """Stores a message's analyses one per transaction, so that a row the database
        refuses fails its item alone and the stream goes on."""
        answered: list[ItemOutcome] = []
        for index, item in enumerate(outcome):
            if item.analysis is None:
                answered.append(item)
                continue
            try:
                async with self._uow() as uow:
                    await uow.analyses.add(item.analysis)
                    await uow.commit()
            except TextLensError as error:
                answered.append(ItemOutcome(item.ref, error=error))
            except Exception as exc:  # noqa: BLE001
                log.warning("stream item not stored", item=index, error=type(exc).__name__)
                answered.append(ItemOutcome(item.ref, error=NOT_STORED))
            else:
                self._metrics.analyses_stored([item.analysis])
                answered.append(item)
        return answered

    def analyze_stream(
        self, tenant: str, messages: AsyncIterator[Sequence[StreamItem]]
    ) -> AsyncIterator[MessageOutcome]:
        """One outcome per message, in order; each answered only once its results are stored."""
        return self.answer_stream(tenant, messages, _as_is)

    async def answer_stream(
        self,
        tenant: str,
        messages: AsyncIterator[Sequence[StreamItem]],
        encode: Callable[[MessageOutcome], Awaitable[Answer]],
    ) -> AsyncIterator[Answer]:
        """One answer per message, in order: its outcome once stored, then ``encode``d.

        A reader task analyses up to ``pipeline_depth`` messages ahead and starts storing
        and encoding them, so storage overlaps analysis; it blocks when the queue is full,
        which is what stops the server reading from a client that stops reading, and while
        the tenant's other messages hold its ``messages_per_tenant`` slots: a message
        holds one from its analysis until it is encoded.
        """
        queue: asyncio.Queue[asyncio.Task[Answer] | _End] = asyncio.Queue(maxsize=self._depth)
        stores: set[asyncio.Task[Answer]] = set()

        async def answer(outcome: MessageOutcome) -> Answer:
            return await encode(await self.store(outcome))

        async def read() -> None:
            end = _End()
            try:
                async for items in messages:
                    taken = await self._slots.acquire(tenant)
                    try:
                        # No local keeps the outcome: while this reader waits for its next
                        # turn, a message's analyses are held by its store task alone.
                        store = asyncio.create_task(
                            answer(await self.analyze_message(tenant, items)),
                            name="textlens-stream-store",
                        )
                    except BaseException:
                        self._slots.release(tenant)
                        raise
                    stores.add(store)
                    store.add_done_callback(stores.discard)
                    store.add_done_callback(functools.partial(self._give_back, tenant, taken))
                    await queue.put(store)
            except asyncio.CancelledError:
                raise
            except BaseException as error:  # noqa: BLE001 - handed to the consumer
                end = _End(error)
            await queue.put(end)

        reader = asyncio.create_task(read(), name="textlens-stream-reader")
        try:
            while True:
                entry = await queue.get()
                if isinstance(entry, _End):
                    if entry.error is not None:
                        raise entry.error
                    return
                # Shielded: if this call is cancelled, the store it waits on still completes
                # (and is awaited below) instead of being torn down mid-transaction.
                yield await asyncio.shield(entry)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            # Stores already started run to completion: no transaction is left half-done,
            # and what the client was told stays stored.
            if stores:
                await asyncio.wait(set(stores))
