"""Locating and running ffmpeg: `KHIPU_FFMPEG`, else `ffmpeg` on PATH, else imageio-ffmpeg's binary.

Commands are built with ffmpeg-python by callers; this module only resolves the binary and runs
it off the event loop. The bundled binary ships no ffprobe, so durations are read from WAV
headers (`wav_info`) or with mutagen, never with `ffmpeg.probe`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


class FFmpegError(RuntimeError):
    """ffmpeg exited with an error; `stderr` holds its last lines."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        self.returncode = returncode
        self.stderr = stderr
        tail = "\n".join(stderr.strip().splitlines()[-8:])
        super().__init__(f"ffmpeg exited with {returncode}: {tail}")


@cache
def ffmpeg_binary() -> str:
    configured = os.environ.get("KHIPU_FFMPEG")
    if configured:
        return configured
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], *, input_bytes: bytes | None = None) -> bytes:
    """Run `ffmpeg <args>` (the binary is prepended) and return stdout; raise FFmpegError."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    proc = subprocess.run(command, input=input_bytes, capture_output=True, check=False)
    if proc.returncode != 0:
        raise FFmpegError(command, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout


def run_stream(stream: Any, *, overwrite: bool = True) -> None:
    """Run an ffmpeg-python stream graph with the resolved binary."""
    args = stream.get_args()
    if overwrite:
        args = ["-y", *args]
    run_ffmpeg(args)


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    sample_width: int
    frames: int

    @property
    def duration_ms(self) -> int:
        return round(self.frames * 1000 / self.sample_rate)


def wav_info(path: Path) -> WavInfo:
    with wave.open(str(path), "rb") as w:
        return WavInfo(w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes())
