"""Benchmark: stitch and master a synthetic book with stitch_chapter versus one plain ffmpeg encode.

Generates (untimed) a book of speech-like 22,050 Hz pieces, then times (1) one ffmpeg process
that concatenates the same pieces and pauses and encodes them to MP3 at the preview bitrate, and
(2) `stitch_chapter` on every chapter, chapters in parallel in a process pool as the product's
workers run them. Prints both times, their ratio and the peak RSS of every process involved.

    python scripts/bench/stitch.py            # the 10-hour book
    python scripts/bench/stitch.py --hours 1  # a quick run
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from khipu.audio.mastering import MasteringSettings, Piece, stitch_chapter
from khipu.core.ffmpeg import ffmpeg_binary

PIECE_RATE = 22050  # Piper's rate
PAUSES_MS = (300, 500, 800, 1200)
VOCODER_FLOOR_DB = -66.0
GOAL_RATIO = 1.3
GOAL_RSS_MB = 300


@dataclass(frozen=True)
class Chapter:
    number: int
    pieces: tuple[Piece, ...]


@dataclass(frozen=True)
class ChapterRun:
    duration_ms: int
    cpu_s: float  # user + system time of the worker and its ffmpeg children for this chapter
    worker_rss_kb: int  # the Python worker, after this chapter
    ffmpeg_rss_kb: int  # the largest ffmpeg child the worker has run so far


def main() -> None:
    args = parse_args()
    workers = args.workers or os.cpu_count() or 1
    settings = MasteringSettings()
    chapters_count = max(1, round(args.hours * 60 / args.chapter_minutes))
    root = Path(tempfile.mkdtemp(prefix="khipu-bench-stitch-", dir=args.workdir))
    context = multiprocessing.get_context("spawn")
    try:
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            chapters = list(
                pool.map(
                    generate_chapter,
                    range(chapters_count),
                    [root / "pieces"] * chapters_count,
                    [args.chapter_minutes * 60.0] * chapters_count,
                )
            )
        pieces = sum(len(chapter.pieces) for chapter in chapters)
        print(
            f"book: {chapters_count} chapters x {args.chapter_minutes:g} min "
            f"({args.hours:g} h incl. pauses), {pieces} pieces at {PIECE_RATE} Hz; "
            f"generated in {time.perf_counter() - started:.0f} s (not timed)"
        )
        print(f"load average before timing: {format_load()}")

        baseline_s, baseline_cpu_s, baseline_rss_kb = run_baseline(
            chapters, root=root, settings=settings
        )
        print(
            f"baseline: one ffmpeg, concat demuxer -> MP3 {settings.preview_bitrate} CBR "
            f"{settings.sample_rate} Hz mono of the same pieces and pauses: {baseline_s:.1f} s"
        )

        ours_s, runs = run_ours(
            chapters, root=root, settings=settings, workers=workers, context=context
        )
        book_h = sum(run.duration_ms for run in runs) / 3_600_000
        print(
            f"ours: stitch_chapter (FLAC master + MP3 preview + loudness report) per chapter, "
            f"{workers} chapters in parallel (process pool of {workers}, os.cpu_count() = "
            f"{os.cpu_count()}): {ours_s:.1f} s for {book_h:.2f} h of masters"
        )
        print(f"load average after timing: {format_load()}")
        ratio = ours_s / baseline_s
        print(f"time ratio ours/baseline: {ratio:.2f} (goal <= {GOAL_RATIO})")
        ours_cpu_s = sum(run.cpu_s for run in runs)
        print(
            f"CPU time (user+sys): baseline {baseline_cpu_s:.1f} s, ours {ours_cpu_s:.1f} s, "
            f"ratio {ours_cpu_s / baseline_cpu_s:.2f} (what the wall ratio tends to on a busy host)"
        )
        report_memory(runs, baseline_rss_kb=baseline_rss_kb)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=10.0, help="book length (default 10)")
    parser.add_argument("--chapter-minutes", type=float, default=15.0, help="default 15")
    parser.add_argument("--workers", type=int, default=0, help="default: os.cpu_count()")
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the scratch dir")
    parser.add_argument("--keep", action="store_true", help="keep generated audio and outputs")
    return parser.parse_args()


def generate_chapter(number: int, directory: Path, seconds: float) -> Chapter:
    """Pieces of 5–15 s with pauses until the chapter (head and tail included) is `seconds` long."""
    rng = np.random.default_rng(number)
    directory.mkdir(parents=True, exist_ok=True)
    settings = MasteringSettings()
    elapsed = (settings.head_room_tone_ms + settings.tail_room_tone_ms) / 1000
    pieces: list[Piece] = []
    while elapsed < seconds:
        length = min(rng.uniform(5.0, 15.0), max(0.5, seconds - elapsed))
        pause_ms = int(rng.choice(PAUSES_MS))
        path = directory / f"chapter-{number:03d}-piece-{len(pieces):04d}.wav"
        write_speech_like(path, seconds=length, rng=rng)
        pieces.append(Piece(path=path, pause_after_ms=pause_ms))
        elapsed += length + pause_ms / 1000
    return Chapter(number=number, pieces=tuple(pieces))


def write_speech_like(path: Path, *, seconds: float, rng: np.random.Generator) -> None:
    """A voiced buzz with a wandering pitch cut into syllables, at a level TTS engines produce."""
    count = round(seconds * PIECE_RATE)
    t = np.arange(count) / PIECE_RATE
    pitch = rng.uniform(100.0, 190.0) * (1.0 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / PIECE_RATE
    voice = harmonics(phase, count=6) + 0.05 * rng.standard_normal(count)
    envelope = np.zeros(count)
    position = round(0.02 * PIECE_RATE)
    while position < count:
        length = round(rng.uniform(0.08, 0.25) * PIECE_RATE)
        syllable = np.hanning(length)[: count - position] * rng.uniform(0.3, 1.0)
        envelope[position : position + syllable.size] = syllable
        gap = rng.uniform(0.02, 0.08) if rng.random() < 0.8 else rng.uniform(0.15, 0.35)
        position += length + round(gap * PIECE_RATE)
    signal = voice * envelope
    signal *= 10.0 ** (rng.uniform(-24.0, -16.0) / 20.0) / np.sqrt(np.mean(signal**2))
    # Vocoder output is never exactly zero between syllables; digital zeros would flatter the
    # MP3 encoder (it skips silent frames) and so the baseline.
    signal += 10.0 ** (VOCODER_FLOOR_DB / 20.0) * rng.standard_normal(count)
    pcm = np.clip(np.round(signal * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(PIECE_RATE)
        wav.writeframes(pcm.tobytes())


def harmonics(phase: np.ndarray, *, count: int) -> np.ndarray:
    """sum(sin(k * phase) / k) for k = 1..count, by the Chebyshev recurrence (two trig calls)."""
    twice_cos = 2.0 * np.cos(phase)
    previous, current = np.zeros_like(phase), np.sin(phase)
    total = current.copy()
    for k in range(2, count + 1):
        previous, current = current, twice_cos * current - previous
        total += current / k
    return total


def run_baseline(
    chapters: Sequence[Chapter], *, root: Path, settings: MasteringSettings
) -> tuple[float, float, int]:
    """One ffmpeg: the concat demuxer over every piece and (silent) pause, encoded to MP3.

    Returns wall seconds, CPU seconds and peak RSS (KB) of that ffmpeg.
    """
    list_path = root / "baseline.ffconcat"
    list_path.write_text(baseline_list(chapters, root=root, settings=settings), encoding="utf-8")
    command = [
        ffmpeg_binary(),
        *("-hide_banner", "-nostdin", "-loglevel", "error", "-y"),
        *("-f", "concat", "-safe", "0", "-i", str(list_path)),
        *("-c:a", "libmp3lame", "-b:a", settings.preview_bitrate),
        *("-ar", str(settings.sample_rate), "-ac", "1", str(root / "baseline.mp3")),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command)
    # wait4 reports this one child's peak RSS, unmixed with the generator processes' peaks.
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"baseline ffmpeg failed with {process.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def baseline_list(chapters: Sequence[Chapter], *, root: Path, settings: MasteringSettings) -> str:
    silences: dict[int, Path] = {}

    def silence(ms: int) -> str:
        if ms not in silences:
            silences[ms] = root / f"baseline-silence-{ms}.wav"
            with wave.open(str(silences[ms]), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(PIECE_RATE)
                wav.writeframes(bytes(2 * round(ms * PIECE_RATE / 1000)))
        return f"file '{silences[ms]}'"

    lines = ["ffconcat version 1.0"]
    for chapter in chapters:
        lines.append(silence(settings.head_room_tone_ms))
        for index, piece in enumerate(chapter.pieces):
            lines.append(f"file '{piece.path}'")
            last = index == len(chapter.pieces) - 1
            lines.append(silence(settings.tail_room_tone_ms if last else piece.pause_after_ms))
    return "\n".join(lines) + "\n"


def run_ours(
    chapters: Sequence[Chapter],
    *,
    root: Path,
    settings: MasteringSettings,
    workers: int,
    context: multiprocessing.context.BaseContext,
) -> tuple[float, list[ChapterRun]]:
    out = root / "masters"
    out.mkdir()
    # Workers start (and import numpy) before the clock does, as the product's workers would.
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        list(pool.map(warm_up, range(workers)))
        started = time.perf_counter()
        runs = list(
            pool.map(master_chapter, chapters, [out] * len(chapters), [settings] * len(chapters))
        )
        elapsed = time.perf_counter() - started
    return elapsed, runs


def warm_up(_: int) -> None:
    time.sleep(0.2)  # long enough that every worker of the pool gets one


def master_chapter(chapter: Chapter, out: Path, settings: MasteringSettings) -> ChapterRun:
    name = f"chapter-{chapter.number:03d}"
    cpu_before = cpu_seconds()
    master = stitch_chapter(
        chapter.pieces,
        master_path=out / f"{name}.flac",
        preview_path=out / f"{name}.mp3",
        settings=settings,
    )
    return ChapterRun(
        duration_ms=master.duration_ms,
        cpu_s=cpu_seconds() - cpu_before,
        worker_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        ffmpeg_rss_kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )


def cpu_seconds() -> float:
    """User and system time of this process and of the children it has waited for."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def report_memory(runs: Sequence[ChapterRun], *, baseline_rss_kb: int) -> None:
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = max(run.worker_rss_kb for run in runs) / 1024
    ffmpeg_mb = max(run.ffmpeg_rss_kb for run in runs) / 1024
    print(
        f"peak RSS (RUSAGE_SELF / RUSAGE_CHILDREN): main process {main_mb:.0f} MB; "
        f"chapter worker {worker_mb:.0f} MB; its ffmpeg children {ffmpeg_mb:.0f} MB; "
        f"baseline ffmpeg {baseline_rss_kb / 1024:.0f} MB "
        f"(goal <= {GOAL_RSS_MB} MB per process)"
    )
    print(
        "  ffmpeg figures are upper bounds: Linux carries the spawning Python process's RSS "
        "high-water mark into its exec'd child"
    )


def format_load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


if __name__ == "__main__":
    main()
