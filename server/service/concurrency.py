"""Running storage work so that cancelling a call never interrupts it halfway, and sharing
the process fairly between tenants."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


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


class TenantSlots:
    """At most ``per_tenant`` units of one tenant's work at a time; that tenant's further
    units wait their turn, in order, while other tenants' work goes on.

    A tenant's entry lives only while some unit of it holds or waits for a slot.
    """

    def __init__(self, per_tenant: int) -> None:
        self._per_tenant = per_tenant
        self._gates: dict[str, _Gate] = {}

    async def acquire(self, tenant: str) -> None:
        gate = self._gates.get(tenant)
        if gate is None:
            gate = self._gates[tenant] = _Gate(asyncio.Semaphore(self._per_tenant))
        gate.users += 1
        try:
            await gate.slots.acquire()
        except BaseException:
            self._leave(tenant, gate)
            raise

    def release(self, tenant: str) -> None:
        gate = self._gates[tenant]
        gate.slots.release()
        self._leave(tenant, gate)

    def _leave(self, tenant: str, gate: _Gate) -> None:
        gate.users -= 1
        if gate.users == 0:
            del self._gates[tenant]


class _Gate:
    __slots__ = ("slots", "users")

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self.slots = slots
        self.users = 0
