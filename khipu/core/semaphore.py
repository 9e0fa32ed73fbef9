"""A counting semaphore shared by every process through Redis (e.g. synthesis per tenant).

Holders take a short lease and renew it while they hold it, so a crashed holder frees its slot
within one lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
  return 1
end
return 0
"""


@asynccontextmanager
async def hold(
    redis: Redis, key: str, *, limit: int, lease_seconds: float = 20
) -> AsyncIterator[None]:
    token = uuid.uuid4().hex
    delay = 0.02
    while not await redis.eval(_ACQUIRE, 1, key, time.time(), lease_seconds, limit, token):
        await asyncio.sleep(delay + random.uniform(0, delay))
        delay = min(delay * 2, 0.5)

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_seconds / 3)
            async with redis.pipeline(transaction=True) as pipe:
                pipe.zadd(key, {token: time.time()}, xx=True)
                pipe.pexpire(key, math.ceil(lease_seconds * 1000))
                await pipe.execute()

    renewal = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewal
        await redis.zrem(key, token)
