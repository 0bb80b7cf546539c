"""Running storage work so that cancelling a call never interrupts it halfway, and sharing
the process fairly between tenants."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Work over texts this long in all (a hundred sentences and more: checks, cache entries,
# rows, answers) takes milliseconds; it runs in a thread, so that the event loop's other
# calls do not wait for it. Below this, a thread's hand-off would cost more than the work.
OFF_LOOP_CHARS = 5_000


async def off_loop_if_long(chars: int, work: Callable[[], T]) -> T:
    """``work()``: in a thread when it is over ``chars`` characters of text, at least
    ``OFF_LOOP_CHARS`` of them, else at once on the event loop."""
    if chars < OFF_LOOP_CHARS:
        return work()
    return await asyncio.to_thread(work)


async def run_to_completion(coro: Awaitable[T]) -> T:
    """Awaits ``coro``; if the caller is cancelled meanwhile, lets it finish first.

    Database drivers cannot be interrupted mid-statement safely (a cancelled statement
    leaves its connection, and SQLite's write lock, in an unknown state), so a cancelled
    call finishes the short unit of work it started and only then sees the cancellation.
    """
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


class TenantActivity:
    """Which tenants this process has served calls for lately: enough to tell whether any
    tenant other than a given one made a call in the last ``window_seconds``.

    Only the two most recent distinct tenants are kept: whatever tenant asks, the most
    recent other one is one of them. Constant memory, whatever the number of tenants.
    """

    def __init__(self, window_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self._window = window_seconds
        self._clock = clock
        self._latest: tuple[str, float] = ("", -math.inf)
        self._before: tuple[str, float] = ("", -math.inf)

    def seen(self, tenant: str) -> None:
        now = self._clock()
        if tenant != self._latest[0]:
            self._before = self._latest
        self._latest = (tenant, now)

    def others_active(self, tenant: str) -> bool:
        other, when = self._latest if self._latest[0] != tenant else self._before
        return bool(other) and self._clock() - when <= self._window


class TenantSlots:
    """At most ``per_tenant`` units of one tenant's work at a time; that tenant's further
    units wait their turn, in order, while other tenants' work goes on.

    With a ``share`` below 1 and an ``activity`` to consult, a tenant's units take at most
    that share of the time while other tenants are making calls: a unit that held its slot
    for t seconds gives it back only t * (1 - share) / share seconds later. When no other
    tenant is active, slots are given back at once, so a tenant alone has the process.
    When n tenants hold or wait for slots at once, each may take 1/n of the time if that
    is more, so that heavy tenants together still have the whole process.

    A tenant's entry lives only while some unit of it holds or waits for a slot.
    """

    def __init__(
        self,
        per_tenant: int,
        *,
        share: float = 1.0,
        activity: TenantActivity | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], not {share}")
        self._per_tenant = per_tenant
        self._gates: dict[str, _Gate] = {}
        self._share = share
        self._activity = activity if share < 1 else None
        self._clock = clock

    async def acquire(self, tenant: str) -> float:
        """Waits for a slot; returns the time it was taken, for ``release``."""
        gate = self._gates.get(tenant)
        if gate is None:
            gate = self._gates[tenant] = _Gate(asyncio.Semaphore(self._per_tenant))
        gate.users += 1
        try:
            await gate.slots.acquire()
        except BaseException:
            self._leave(tenant, gate)
            raise
        return self._clock()

    def release(self, tenant: str, taken: float | None = None) -> None:
        gate = self._gates[tenant]
        activity = self._activity
        if taken is not None and activity is not None and activity.others_active(tenant):
            heavy = len(self._gates)  # tenants holding or waiting for slots, this one too
            share = max(self._share, 1 / heavy) if heavy > 1 else self._share
            rest = (self._clock() - taken) * (1 - share) / share
            if rest > 0:
                asyncio.get_running_loop().call_later(rest, self._give_back, tenant, gate)
                return
        self._give_back(tenant, gate)

    def _give_back(self, tenant: str, gate: _Gate) -> None:
        gate.slots.release()
        self._leave(tenant, gate)

    def _leave(self, tenant: str, gate: _Gate) -> None:
        gate.users -= 1
        if gate.users == 0:
            del self._gates[tenant]


class FairTurns:
    """At most ``capacity`` holders at once; those waiting are served one tenant at a time
    in turn (round robin), each tenant's own in the order they came.

    However many texts one tenant queues, another tenant's next one waits for at most one
    of them per tenant ahead of it, not for all of them.
    """

    def __init__(self, capacity: int) -> None:
        self._free = capacity
        # Tenants in the order of their turns; each with its waiters, oldest first.
        self._waiting: dict[str, collections.deque[asyncio.Future[None]]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, tenant: str) -> AsyncIterator[None]:
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            granted = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(tenant, collections.deque()).append(granted)
            try:
                await granted
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():
                    self._pass_on()  # given a turn, but cancelled before taking it
                else:
                    self._forget(tenant, granted)
                raise
        try:
            yield
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        """The turn just given back goes to the next tenant in line, else back to the pool."""
        while self._waiting:
            tenant = next(iter(self._waiting))
            waiters = self._waiting.pop(tenant)
            granted = waiters.popleft()
            if waiters:
                self._waiting[tenant] = waiters  # to the back of the line
            if not granted.done():
                granted.set_result(None)
                return
        self._free += 1

    def _forget(self, tenant: str, granted: asyncio.Future[None]) -> None:
        waiters = self._waiting.get(tenant)
        if waiters is not None and granted in waiters:
            waiters.remove(granted)
            if not waiters:
                del self._waiting[tenant]


class _Gate:
    __slots__ = ("slots", "users")

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self.slots = slots
        self.users = 0
