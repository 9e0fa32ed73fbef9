"""Retrying a synthesis that failed for a passing reason (throttling, a server error).

Exponential backoff with full jitter, so that many workers throttled at the same moment do not
come back at the same moment; a `retry_after` the service asked for is waited at least.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from khipu.audio.engines.base import (
    SynthesizedAudio,
    TTSEngine,
    TTSServerError,
    TTSThrottled,
    VoiceSpec,
)

logger = logging.getLogger(__name__)

# A service may ask for a long pause; we wait at most this long before trying again, so that one
# throttled segment cannot hold a worker for longer than a job would tolerate.
RETRY_AFTER_CEILING_S = 120.0


def full_jitter(ceiling: float) -> float:
    return random.uniform(0.0, ceiling)


def backoff_delay(
    attempt: int,
    error: TTSThrottled | TTSServerError,
    *,
    base_delay: float,
    max_delay: float,
    jitter: Callable[[float], float] = full_jitter,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    delay = jitter(min(max_delay, base_delay * 2 ** (attempt - 1)))
    if isinstance(error, TTSThrottled) and error.retry_after is not None:
        delay = max(delay, min(error.retry_after, RETRY_AFTER_CEILING_S))
    return delay


async def synthesize_with_retries(
    engine: TTSEngine,
    payload: str,
    voice: VoiceSpec,
    *,
    attempts: int = 5,
    base_delay: float = 0.5,
    max_delay: float = 20.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    jitter: Callable[[float], float] = full_jitter,
) -> SynthesizedAudio:
    """`engine.synthesize`, retried on TTSThrottled / TTSServerError; TTSRejected is raised at once.

    After the last attempt the last error is raised.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts):
        try:
            return await engine.synthesize(payload, voice)
        except (TTSThrottled, TTSServerError) as error:
            delay = backoff_delay(
                attempt, error, base_delay=base_delay, max_delay=max_delay, jitter=jitter
            )
            logger.info(
                "tts retry",
                extra={
                    "engine": engine.name,
                    "attempt": attempt,
                    "delay_s": round(delay, 3),
                    "error": error.detail,
                },
            )
            await sleep(delay)
    return await engine.synthesize(payload, voice)
