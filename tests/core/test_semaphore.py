"""The Redis semaphore bounds holders across processes and frees a crashed holder's slot."""

from __future__ import annotations

import asyncio
import time
import uuid

from khipu.core import semaphore


async def test_no_more_than_the_limit_hold_at_once(runtime):
    key, holding, peak = f"test:sem:{uuid.uuid4().hex}", 0, 0

    async def user() -> None:
        nonlocal holding, peak
        async with semaphore.hold(runtime.redis, key, limit=2):
            holding += 1
            peak = max(peak, holding)
            await asyncio.sleep(0.05)
            holding -= 1

    await asyncio.gather(*(user() for _ in range(8)))
    assert peak == 2 and holding == 0
    assert await runtime.redis.zcard(key) == 0


async def test_a_crashed_holders_slot_frees_within_one_lease(runtime):
    key = f"test:sem:{uuid.uuid4().hex}"
    # A holder that died without releasing: its lease entry stays, unrenewed.
    await runtime.redis.zadd(key, {"dead-holder": time.time()})
    started = time.monotonic()
    async with semaphore.hold(runtime.redis, key, limit=1, lease_seconds=1.0):
        waited = time.monotonic() - started
    assert 0.5 < waited < 3


async def test_a_live_holder_keeps_its_slot_beyond_the_lease(runtime):
    key = f"test:sem:{uuid.uuid4().hex}"
    order = []

    async def long_holder() -> None:
        async with semaphore.hold(runtime.redis, key, limit=1, lease_seconds=0.6):
            order.append("long starts")
            await asyncio.sleep(2.0)  # more than three leases: renewals keep the slot
            order.append("long ends")

    async def latecomer() -> None:
        await asyncio.sleep(0.1)
        async with semaphore.hold(runtime.redis, key, limit=1, lease_seconds=0.6):
            order.append("late holds")

    await asyncio.gather(long_holder(), latecomer())
    assert order == ["long starts", "long ends", "late holds"]
