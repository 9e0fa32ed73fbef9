"""How long `synthesize_with_retries` waits between attempts."""

from __future__ import annotations

import pytest

from khipu.audio.engines import (
    PiperEngine,
    TTSServerError,
    TTSThrottled,
    VoiceSpec,
    synthesize_with_retries,
)
from khipu.audio.engines.retry import RETRY_AFTER_CEILING_S, backoff_delay, full_jitter


def ceiling(value: float) -> float:
    return value


def test_backoff_doubles_from_the_base_delay_up_to_the_maximum():
    delays = [
        backoff_delay(attempt, TTSServerError(), base_delay=0.5, max_delay=3.0, jitter=ceiling)
        for attempt in range(1, 6)
    ]

    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_full_jitter_waits_anywhere_between_zero_and_the_ceiling():
    delays = [
        backoff_delay(3, TTSServerError(), base_delay=0.5, max_delay=20.0) for _ in range(500)
    ]

    assert all(0.0 <= delay <= 2.0 for delay in delays)
    assert min(delays) < 0.5 and max(delays) > 1.5  # spread out, not a fixed delay
    assert 0.0 <= full_jitter(1.0) <= 1.0


def test_retry_after_is_waited_at_least_but_never_past_the_ceiling():
    asked = TTSThrottled("slow down", retry_after=4.0)
    unreasonable = TTSThrottled("slow down", retry_after=3_600.0)

    assert backoff_delay(1, asked, base_delay=0.5, max_delay=20.0, jitter=ceiling) == 4.0
    assert backoff_delay(6, asked, base_delay=0.5, max_delay=20.0, jitter=ceiling) == 16.0
    assert (
        backoff_delay(1, unreasonable, base_delay=0.5, max_delay=20.0, jitter=ceiling)
        == RETRY_AFTER_CEILING_S
    )


@pytest.mark.parametrize("attempts", [0, -1])
async def test_at_least_one_attempt_is_required(attempts: int):
    with pytest.raises(ValueError, match="at least 1"):
        await synthesize_with_retries(
            PiperEngine(), "Hello.", VoiceSpec.of("piper", "joe"), attempts=attempts
        )
