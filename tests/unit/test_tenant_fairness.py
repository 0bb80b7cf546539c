"""Sharing one server process between tenants: turns by tenant, and a heavy tenant's share
of the time while others are making calls."""

from __future__ import annotations

import asyncio

import pytest

from server.service.concurrency import FairTurns, TenantActivity, TenantSlots


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_activity_tells_whether_another_tenant_called_within_the_window() -> None:
    clock = Clock()
    activity = TenantActivity(window_seconds=1.0, clock=clock)
    assert not activity.others_active("acme")
    activity.seen("acme")
    activity.seen("acme")
    assert not activity.others_active("acme")
    assert activity.others_active("globex")
    activity.seen("globex")
    clock.now += 0.5
    activity.seen("acme")  # the latest again: globex is still remembered, as the one before
    assert activity.others_active("acme")
    clock.now += 0.6
    assert not activity.others_active("acme")
    assert activity.others_active("globex")


async def test_turns_go_round_the_tenants_not_in_arrival_order() -> None:
    turns = FairTurns(1)
    order: list[str] = []
    release = asyncio.Event()

    async def work(tenant: str, name: str) -> None:
        async with turns.turn(tenant):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(work("heavy", "heavy-0"))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(work("heavy", f"heavy-{i}")) for i in range(1, 4)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(work("light", "light-0")))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *tasks)
    assert order == ["heavy-0", "heavy-1", "light-0", "heavy-2", "heavy-3"]


async def test_a_cancelled_waiter_gives_up_its_place_and_a_granted_one_passes_it_on() -> None:
    turns = FairTurns(1)
    release = asyncio.Event()
    done: list[str] = []

    async def work(tenant: str) -> None:
        async with turns.turn(tenant):
            await release.wait()
            done.append(tenant)

    holder = asyncio.create_task(work("a"))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(work("b"))
    behind = asyncio.create_task(work("c"))
    await asyncio.sleep(0)
    waiting.cancel()
    release.set()
    await holder
    await behind
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert done == ["a", "c"]
    # Every turn came back: two more holders at once would now wait for none.
    async with turns.turn("d"):
        pass


async def test_a_heavy_tenant_waits_out_its_share_only_while_others_are_active() -> None:
    clock = Clock()
    activity = TenantActivity(clock=clock)
    slots = TenantSlots(1, share=0.5, activity=activity, clock=clock)
    # Alone: a unit that held the slot 5 s gives it back at once.
    taken = await slots.acquire("heavy")
    clock.now += 5
    slots.release("heavy", taken)
    taken = await asyncio.wait_for(slots.acquire("heavy"), 2)
    # Another tenant called just now: the next unit gives it back only 5 s after it is
    # done (a share of one half), and the heavy tenant's next unit waits for that.
    clock.now += 5
    activity.seen("light")
    slots.release("heavy", taken)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(slots.acquire("heavy"), 0.5)
    # Other tenants never wait for the heavy one's rest.
    await asyncio.wait_for(slots.acquire("light"), 2)


async def test_heavy_tenants_at_once_share_the_process_between_them() -> None:
    clock = Clock()
    activity = TenantActivity(clock=clock)
    slots = TenantSlots(1, share=0.25, activity=activity, clock=clock)
    # One heavy tenant among light callers: a unit that held its slot 0.4 s rests 1.2 s.
    taken = await slots.acquire("heavy")
    clock.now += 0.4
    activity.seen("light")
    slots.release("heavy", taken)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(slots.acquire("heavy"), 0.8)
    await asyncio.sleep(0.5)  # the rest is over
    # Two heavy tenants at once: each takes half the time, resting 0.4 s, not 1.2 s.
    taken = await asyncio.wait_for(slots.acquire("heavy"), 1)
    other = await slots.acquire("other heavy")
    clock.now += 0.4
    activity.seen("other heavy")
    slots.release("heavy", taken)
    await asyncio.wait_for(slots.acquire("heavy"), 0.8)
    slots.release("other heavy", other)
