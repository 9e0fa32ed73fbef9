"""Measurements the engine tests assert on: reading WAV bytes, loudness, pitch."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DecodedWav:
    sample_rate: int
    channels: int
    sample_width: int
    samples: np.ndarray  # int16

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_wav(data: bytes) -> DecodedWav:
    """Read a WAV strictly with the standard library, as any downstream tool would."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
        return DecodedWav(
            sample_rate=wav.getframerate(),
            channels=wav.getnchannels(),
            sample_width=wav.getsampwidth(),
            samples=np.frombuffer(frames, dtype="<i2"),
        )


def rms_dbfs(samples: np.ndarray) -> float:
    rms = np.sqrt(np.mean(samples.astype(np.float64) ** 2)) / 32768
    return float(20 * np.log10(max(rms, 1e-12)))


def median_pitch_hz(samples: np.ndarray, sample_rate: int) -> float:
    """Median fundamental frequency of the voiced 40 ms frames, by autocorrelation (60-400 Hz)."""
    signal = samples.astype(np.float64)
    frame, hop = int(0.04 * sample_rate), int(0.01 * sample_rate)
    shortest_lag, longest_lag = sample_rate // 400, sample_rate // 60
    loudness_floor = 0.1 * np.sqrt(np.mean(signal**2))
    estimates = []
    for start in range(0, len(signal) - frame, hop):
        window = signal[start : start + frame] - signal[start : start + frame].mean()
        if np.sqrt(np.mean(window**2)) < loudness_floor:
            continue
        correlation = np.correlate(window, window, "full")[frame - 1 :]
        correlation /= correlation[0]
        candidates = correlation[shortest_lag:longest_lag]
        if candidates.max() < 0.5:
            continue  # not clearly periodic: unvoiced or silent
        # The first lag nearly as strong as the best is the period; later ones are its
        # multiples (choosing those would read an octave low).
        lag = shortest_lag + int(np.argmax(candidates >= 0.9 * candidates.max()))
        while lag + 1 < longest_lag and correlation[lag + 1] > correlation[lag]:
            lag += 1
        estimates.append(sample_rate / lag)
    return float(np.median(estimates))


def spectral_centroid_hz(samples: np.ndarray, sample_rate: int) -> float:
    """The magnitude-weighted mean frequency of the whole signal."""
    magnitudes = np.abs(np.fft.rfft(samples.astype(np.float64)))
    frequencies = np.fft.rfftfreq(len(samples), 1 / sample_rate)
    return float((magnitudes * frequencies).sum() / magnitudes.sum())
