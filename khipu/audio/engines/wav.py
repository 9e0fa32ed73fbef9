"""Reading the WAV files that speech services return, including streamed ones.

A streamed WAV (OpenAI's, for one) is written before its length is known, so its RIFF and data
sizes are placeholders such as 0xFFFFFFFF; Python's `wave` then reports absurd frame counts. We
walk the chunks ourselves and take the data chunk up to the end of what actually arrived.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

PCM_FORMAT_TAG = 1
EXTENSIBLE_FORMAT_TAG = 0xFFFE


class MalformedWav(ValueError):
    """The bytes are not a 16-bit PCM WAV we can read."""


@dataclass(frozen=True, slots=True)
class PcmAudio:
    pcm: bytes  # mono s16le
    sample_rate: int


def read_wav(data: bytes) -> PcmAudio:
    """Mono s16le samples and the rate of a 16-bit PCM WAV (channels are averaged)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise MalformedWav("not a RIFF/WAVE file")
    position = 12
    fmt: tuple[int, int, int, int] | None = None
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        (size,) = struct.unpack_from("<I", data, position + 4)
        body = position + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise MalformedWav("truncated fmt chunk")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise MalformedWav("data chunk before fmt chunk")
            # A placeholder size runs past the end: the data is whatever arrived.
            return _pcm_audio(data[body : min(body + size, len(data))], *fmt)
        position = body + size + (size & 1)  # chunks are word-aligned
    raise MalformedWav("no data chunk")


def _pcm_audio(samples: bytes, tag: int, channels: int, rate: int, bits: int) -> PcmAudio:
    if tag not in (PCM_FORMAT_TAG, EXTENSIBLE_FORMAT_TAG) or bits != 16 or channels < 1:
        raise MalformedWav(f"unsupported WAV format (tag {tag}, {bits} bits, {channels} channels)")
    frame_bytes = 2 * channels
    samples = samples[: len(samples) - len(samples) % frame_bytes]
    if channels == 1:
        return PcmAudio(samples, rate)
    frames = np.frombuffer(samples, dtype="<i2").reshape(-1, channels)
    mono = frames.mean(axis=1).round().astype("<i2")
    return PcmAudio(mono.tobytes(), rate)
