"""Named locks without Redis (one process): held across event loops, timed out, forgotten."""

from __future__ import annotations

import asyncio
import threading

import pytest

from core.locks import Locks, LockTimeout


async def test_a_lock_held_in_one_event_loop_keeps_out_another_loop():
    """One process may run several event loops (the app's cron jobs and a test's); an
    asyncio.Lock bound to the first raised RuntimeError when the second waited on it."""
    locks = Locks(store=None)
    order: list[str] = []
    held = threading.Event()

    def other_loop() -> None:
        async def hold(who: str, seconds: float) -> None:
            async with locks.hold("sms-send:1"):
                order.append(f"{who} in")
                await asyncio.sleep(seconds)
                order.append(f"{who} out")

        async def both() -> None:  # the second waits in this loop: an asyncio.Lock binds to it here
            first = asyncio.create_task(hold("first", 0.3))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(hold("second", 0.1))
            await asyncio.sleep(0.05)
            held.set()
            await asyncio.gather(first, second)
        asyncio.run(both())

    thread = threading.Thread(target=other_loop)
    thread.start()
    await asyncio.to_thread(held.wait, 5)
    async with locks.hold("sms-send:1", wait=5):
        order.append("mine in")
        await asyncio.sleep(0.05)
        order.append("mine out")
    await asyncio.to_thread(thread.join, 5)
    # Each holder's in and out are next to each other: nobody held it at the same time.
    pairs = list(zip(order[::2], order[1::2]))
    assert sorted(pairs) == [("first in", "first out"), ("mine in", "mine out"), ("second in", "second out")]
    assert locks._local == {}


async def test_a_lock_not_given_up_in_time_times_out_and_is_then_free():
    locks = Locks(store=None)
    async with locks.hold("face-live:n1"):
        with pytest.raises(LockTimeout):
            async with locks.hold("face-live:n1", wait=0.05):
                pass  # pragma: no cover
        async with locks.hold("face-live:n2", wait=0.05):  # another name is not held
            pass
    async with locks.hold("face-live:n1", wait=0.05):
        pass
    assert locks._local == {}
