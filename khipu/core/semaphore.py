"""A counting semaphore shared by every process through Redis (e.g. synthesis per tenant).

Holders take a lease that expires, so a crashed holder frees its slot on its own.
"""

from __future__ import annotations

import asyncio
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
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


@asynccontextmanager
async def hold(
    redis: Redis, key: str, *, limit: int, lease_seconds: int = 300
) -> AsyncIterator[None]:
    token = uuid.uuid4().hex
    delay = 0.02
    while not await redis.eval(_ACQUIRE, 1, key, time.time(), lease_seconds, limit, token):
        await asyncio.sleep(delay + random.uniform(0, delay))
        delay = min(delay * 2, 0.5)
    try:
        yield
    finally:
        await redis.zrem(key, token)
