"""Fixed-window failure counters in Redis (login throttling): only failures count, and a
success never resets another client's counter."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Window:
    key: str
    limit: int
    seconds: int


async def retry_after(redis: Redis, windows: list[Window]) -> int | None:
    """Seconds until the first exhausted window reopens, or None if every window has room."""
    async with redis.pipeline(transaction=False) as pipe:
        for window in windows:
            pipe.get(window.key)
            pipe.ttl(window.key)
        values = await pipe.execute()
    waits = []
    for window, count, ttl in zip(windows, values[0::2], values[1::2], strict=True):
        if count is not None and int(count) >= window.limit:
            waits.append(max(int(ttl), 1))
    return max(waits) if waits else None


# INCR, and start the window's clock on the first failure (EXPIRE NX needs Redis 7; this
# works on 6.2, the embedded server, and is atomic).
_COUNT_FAILURE = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


async def record_failure(redis: Redis, windows: list[Window]) -> None:
    for window in windows:
        await redis.eval(_COUNT_FAILURE, 1, window.key, window.seconds)
