"""Plain RMS, peak and noise-floor measurements as ACX defines them (not LUFS), streamed via ffmpeg.

Levels are dBFS with 1.0 as full scale and no sine correction: a full-scale sine measures
-3.01 dB RMS and 0 dB peak, the convention of Audacity and its ACX Check plugin.
"""

from __future__ import annotations

import math
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from khipu.core.ffmpeg import FFmpegError, ffmpeg_binary

# Digital silence has no finite level; reports travel as JSON, so they bottom out here instead.
FLOOR_DB = -120.0
# Resolution of the level analysis: silence edges are found to a block, windows slide by a block.
BLOCK_MS = 10
# Bytes read from ffmpeg at a time (about 6 s of 44.1 kHz mono): memory is independent of length.
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class LoudnessReport:
    duration_ms: int
    rms_db: float  # RMS of the whole file, dBFS (full-scale sine = -3.01 dB)
    peak_db: float  # largest absolute sample, dBFS
    noise_floor_db: float  # lowest RMS over sliding windows of `window_ms`, dBFS
    head_silence_ms: int  # leading room tone: time until a 10 ms block first exceeds the threshold
    tail_silence_ms: int  # trailing room tone: time after the last block above the threshold
    sample_rate: int
    channels: int


def power_db(mean_square: float) -> float:
    """Level in dBFS of a mean square (1.0 = full scale), floored at FLOOR_DB."""
    if mean_square <= 0.0:
        return FLOOR_DB
    return max(FLOOR_DB, 10.0 * math.log10(mean_square))


def rms_db(samples: np.ndarray) -> float:
    """RMS level of float samples (1.0 = full scale) in dBFS; an empty array counts as silence."""
    wide = np.asarray(samples, dtype=np.float64).ravel()
    if wide.size == 0:
        return FLOOR_DB
    return power_db(float(np.dot(wide, wide)) / wide.size)


def peak_db(samples: np.ndarray) -> float:
    """Largest absolute sample of float samples (1.0 = full scale) in dBFS."""
    if np.size(samples) == 0:
        return FLOOR_DB
    return power_db(float(np.max(np.abs(samples))) ** 2)


def measure(
    path: Path, *, window_ms: int = 500, silence_threshold_db: float = -50.0
) -> LoudnessReport:
    """Measure any file ffmpeg can decode (WAV, FLAC, MP3, M4B, ...), streaming its samples.

    All channels count alike: RMS and peak are over every sample, windows over whole frames.
    Raises FFmpegError when ffmpeg cannot decode the file (missing, not audio, corrupt).
    """
    command = _decode_command(path)
    with (
        tempfile.TemporaryFile() as stderr,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr) as decoder,
    ):
        assert decoder.stdout is not None
        try:
            report = _measure_stream(
                decoder.stdout, window_ms=window_ms, silence_threshold_db=silence_threshold_db
            )
        except EOFError:
            report = None  # ffmpeg stopped before its header; its exit status says why
        returncode = decoder.wait()
        if returncode != 0:
            stderr.seek(0)
            raise FFmpegError(command, returncode, stderr.read().decode(errors="replace"))
    if report is None:
        raise FFmpegError(command, returncode, f"no audio decoded from {path}")
    return report


def _decode_command(path: Path) -> list[str]:
    # WAV on a pipe carries the native rate and channel count ahead of the samples, which spares a
    # probe (the bundled ffmpeg has no ffprobe); float samples keep the source's precision.
    return [
        ffmpeg_binary(),
        *("-hide_banner", "-nostdin", "-loglevel", "error"),
        # Absolute, so that a name starting with "-" or "x:" is read as neither option nor protocol.
        *("-i", str(path.absolute())),
        *("-map", "0:a:0", "-map_metadata", "-1", "-fflags", "+bitexact"),
        *("-c:a", "pcm_f32le", "-f", "wav", "pipe:1"),
    ]


def _measure_stream(
    stream: BinaryIO, *, window_ms: int, silence_threshold_db: float
) -> LoudnessReport:
    sample_rate, channels = _read_wav_format(stream)
    meter = _LevelMeter(
        sample_rate=sample_rate,
        channels=channels,
        window_ms=window_ms,
        silence_threshold_db=silence_threshold_db,
    )
    while chunk := stream.read(_CHUNK_BYTES):
        usable = len(chunk) - len(chunk) % 4
        meter.feed(np.frombuffer(chunk[:usable], dtype="<f4"))
    return meter.report()


def _read_wav_format(stream: BinaryIO) -> tuple[int, int]:
    """Read the RIFF header in front of the samples; return (sample_rate, channels)."""
    riff = _read_exactly(stream, 12)
    if riff[:4] != b"RIFF" or riff[8:] != b"WAVE":
        raise ValueError("ffmpeg did not produce a WAV stream")
    audio_format: tuple[int, int] | None = None
    while True:
        chunk_id, size = struct.unpack("<4sI", _read_exactly(stream, 8))
        if chunk_id == b"data":
            if audio_format is None:
                raise ValueError("WAV stream has no fmt chunk before its data")
            return audio_format
        body = _read_exactly(stream, size + size % 2)  # RIFF chunks are padded to even sizes
        if chunk_id == b"fmt ":
            _format_tag, channels, sample_rate = struct.unpack_from("<HHI", body)
            audio_format = (sample_rate, channels)


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("audio stream ended inside its header")
    return data


class _LevelMeter:
    """Streaming RMS, peak, noise floor and leading/trailing quiet of interleaved float samples.

    Chunks of any size are fed in order; the meter keeps one window of block energies, so its
    memory does not depend on the length of the audio.
    """

    def __init__(
        self, *, sample_rate: int, channels: int, window_ms: int, silence_threshold_db: float
    ) -> None:
        self._sample_rate = sample_rate
        self._channels = channels
        self._block_frames = max(1, sample_rate * BLOCK_MS // 1000)
        self._block_len = self._block_frames * channels
        self._window_blocks = max(1, sample_rate * window_ms // 1000 // self._block_frames)
        self._loud_mean_square = 10.0 ** (silence_threshold_db / 10.0)
        self._carry = np.empty(0, dtype=np.float32)
        self._recent = np.empty(0, dtype=np.float64)  # energies of the last window_blocks-1 blocks
        self._blocks = 0
        self._sum_squares = 0.0
        self._peak = 0.0
        self._quietest_window = math.inf
        self._first_loud_block: int | None = None
        self._last_loud_block: int | None = None

    def feed(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        self._peak = max(self._peak, float(np.max(np.abs(samples))))
        joined = np.concatenate((self._carry, samples)) if self._carry.size else samples
        whole = joined.size - joined.size % self._block_len
        self._carry = joined[whole:].copy()
        if whole:
            self._add_blocks(joined[:whole].reshape(-1, self._block_len))

    def _add_blocks(self, blocks: np.ndarray) -> None:
        wide = blocks.astype(np.float64)
        energies = np.einsum("ij,ij->i", wide, wide)
        self._sum_squares += float(energies.sum())
        loud = np.flatnonzero(energies > self._loud_mean_square * self._block_len)
        if loud.size:
            if self._first_loud_block is None:
                self._first_loud_block = self._blocks + int(loud[0])
            self._last_loud_block = self._blocks + int(loud[-1])
        self._track_quietest_window(energies)
        self._blocks += energies.size

    def _track_quietest_window(self, energies: np.ndarray) -> None:
        span = self._window_blocks
        recent = np.concatenate((self._recent, energies))
        if recent.size >= span:
            running = np.concatenate(([0.0], np.cumsum(recent)))
            self._quietest_window = min(
                self._quietest_window, float(np.min(running[span:] - running[:-span]))
            )
        self._recent = recent[recent.size - (span - 1) :]

    def report(self) -> LoudnessReport:
        carry_energy = float(np.dot(self._carry, self._carry.astype(np.float64)))
        samples = self._blocks * self._block_len + self._carry.size
        frames = samples // self._channels
        sum_squares = self._sum_squares + carry_energy
        whole_mean_square = sum_squares / samples if samples else 0.0
        # A file shorter than one window has only its whole RMS to offer as a noise floor.
        if math.isinf(self._quietest_window):
            floor_mean_square = whole_mean_square
        else:
            floor_mean_square = self._quietest_window / (self._window_blocks * self._block_len)
        head_frames, tail_frames = self._quiet_edges(frames, carry_energy)
        return LoudnessReport(
            duration_ms=self._ms(frames),
            rms_db=power_db(whole_mean_square),
            peak_db=power_db(self._peak**2),
            noise_floor_db=power_db(floor_mean_square),
            head_silence_ms=self._ms(head_frames),
            tail_silence_ms=self._ms(tail_frames),
            sample_rate=self._sample_rate,
            channels=self._channels,
        )

    def _quiet_edges(self, frames: int, carry_energy: float) -> tuple[int, int]:
        first, last = self._first_loud_block, self._last_loud_block
        carry_loud = (
            self._carry.size > 0 and carry_energy > self._loud_mean_square * self._carry.size
        )
        if carry_loud:
            # The partial last block is loud: the signal runs to the very end.
            head = (first if first is not None else self._blocks) * self._block_frames
            return head, 0
        if first is None or last is None:
            return frames, frames
        return first * self._block_frames, frames - (last + 1) * self._block_frames

    def _ms(self, frames: int) -> int:
        return round(frames * 1000 / self._sample_rate)
