"""Steps every package builder shares: reading a master's format, MP3 encodes, parallel ffmpeg runs,
and file names that are safe to hand to a retailer.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mutagen.flac import FLAC, FLACNoHeaderError

from khipu.core.ffmpeg import run_ffmpeg, wav_info
from khipu.packaging.book import InvalidPackageInput

T = TypeVar("T")

# Characters Windows, macOS and retailer ingest tools refuse in file names, plus control characters.
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_MAX_STEM_CHARS = 120


@dataclass(frozen=True, slots=True)
class MasterFormat:
    sample_rate: int
    channels: int
    frames: int  # samples per channel

    @property
    def duration_ms(self) -> int:
        return round(self.frames * 1000 / self.sample_rate)


def read_master_format(path: Path) -> MasterFormat:
    """Exact sample count of a FLAC (or WAV) master from its header, without decoding it."""
    if path.suffix.lower() == ".wav":
        info = wav_info(path)
        return MasterFormat(info.sample_rate, info.channels, info.frames)
    try:
        stream = FLAC(path).info
    except (FLACNoHeaderError, OSError) as exc:
        detail = f"chapter master {path.name} is not a readable FLAC file"
        raise InvalidPackageInput(detail) from exc
    if not stream.total_samples:
        raise InvalidPackageInput(f"chapter master {path.name} does not state its length")
    return MasterFormat(stream.sample_rate, stream.channels, stream.total_samples)


def worker_count() -> int:
    """CPU cores this process may use: ffmpeg encoders are single-threaded, so one per core."""
    return max(1, len(os.sched_getaffinity(0)))


def run_in_parallel(jobs: Sequence[Callable[[], T]]) -> list[T]:
    """Run independent jobs (each mostly an ffmpeg subprocess) on a thread per core, in order.

    The first failure is raised once the running jobs end; jobs not yet started are cancelled.
    """
    if len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=min(worker_count(), len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def safe_file_stem(text: str, *, fallback: str) -> str:
    """A file name stem from a title: no path separators, control or reserved characters."""
    stem = unicodedata.normalize("NFC", text)
    stem = _UNSAFE_NAME_CHARS.sub(" ", stem)
    stem = " ".join(stem.split()).strip(". ")
    stem = stem[:_MAX_STEM_CHARS].rstrip(". ")
    return stem or fallback


def mp3_output_args(*, bitrate_kbps: int, sample_rate: int = 44100) -> list[str]:
    """libmp3lame at a constant bit rate, mono: LAME then writes channel mode MONO and an Info
    (not Xing) header, which is how checkers tell CBR from VBR."""
    return [
        "-c:a",
        "libmp3lame",
        "-b:a",
        f"{bitrate_kbps}k",
        "-ac",
        "1",
        "-ar",
        str(sample_rate),
        "-write_xing",
        "1",
        "-id3v2_version",
        "3",
    ]


def encode_mp3(
    source: Path,
    target: Path,
    *,
    bitrate_kbps: int,
    tags: Mapping[str, str] | None = None,
    cover_path: Path | None = None,
    span_ms: tuple[int, int] | None = None,
) -> Path:
    """Encode (a span of) a master to a CBR mono MP3 with ID3v2.3 tags and an optional cover."""
    args = ["-y"]
    if span_ms is not None:
        start_ms, end_ms = span_ms
        args += ["-ss", f"{start_ms}ms", "-to", f"{end_ms}ms"]
    args += ["-i", str(source)]
    if cover_path is not None:
        args += ["-i", str(cover_path)]
    args += ["-map", "0:a:0", "-map_metadata", "-1", "-map_chapters", "-1"]
    if cover_path is not None:
        args += [
            "-map",
            "1:v:0",
            "-c:v",
            "copy",
            "-disposition:v:0",
            "attached_pic",
            "-metadata:s:v:0",
            "title=Cover",
            "-metadata:s:v:0",
            "comment=Cover (front)",
        ]
    for key, value in (tags or {}).items():
        args += ["-metadata", f"{key}={value}"]
    args += [*mp3_output_args(bitrate_kbps=bitrate_kbps), "-f", "mp3", str(target)]
    run_ffmpeg(args)
    return target
