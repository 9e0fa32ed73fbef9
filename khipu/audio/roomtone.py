"""Room tone: the low-level pink-noise bed laid under a chapter, so no pause is digital silence.

ACX checks measure the noise floor in the quietest half second, so the bed runs under the whole
chapter at a known RMS level.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from khipu.audio.loudness import rms_db
from khipu.core.ffmpeg import run_ffmpeg

# A fixed seed makes masters reproducible: re-running a stitch job yields the same bytes.
ROOM_TONE_SEED = 7919
_CALIBRATION_SECONDS = 20


def room_tone_filter(*, sample_rate: int, level_db: float) -> str:
    """An ffmpeg source filter of endless pink noise whose RMS is `level_db` dBFS.

    It goes inside a filter graph rather than in a `-f lavfi` input: the extra input's demuxer
    thread costs more than generating the noise.
    """
    amplitude = 10.0 ** ((level_db - _pink_noise_rms_db(sample_rate)) / 20.0)
    return (
        f"anoisesrc=colour=pink:sample_rate={sample_rate}"
        f":amplitude={amplitude:.9f}:seed={ROOM_TONE_SEED}"
    )


@cache
def _pink_noise_rms_db(sample_rate: int) -> float:
    # anoisesrc's `amplitude` bounds its generator, it is not an RMS level; the ratio depends on the
    # noise filter inside ffmpeg, so it is measured once per process rather than assumed.
    raw = run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            f"anoisesrc=colour=pink:sample_rate={sample_rate}:amplitude=1"
            f":seed={ROOM_TONE_SEED}:duration={_CALIBRATION_SECONDS}",
            "-f",
            "f32le",
            "pipe:1",
        ]
    )
    return rms_db(np.frombuffer(raw, dtype="<f4"))
