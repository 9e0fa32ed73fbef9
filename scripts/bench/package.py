"""Benchmark: M4B export of a synthetic book with build_m4b versus one plain ffmpeg AAC encode.

Generates (untimed, cached in the work directory) chapter masters as mastering delivers them:
FLAC, 44.1 kHz mono, speech-like noise bursts over room tone. Then times, each in a fresh process,
(1) the baseline: one ffmpeg reading every master through the concat demuxer and encoding AAC at
the same bit rate, and (2) `build_m4b`: the full export with chapters, cover, tags and fast start.
Prints both times, their ratio, CPU seconds and the peak RSS of each run's Python process and
ffmpeg children. On a shared machine other work skews wall times: `--rounds N` alternates the two
runs and keeps each one's fastest.

    python scripts/bench/package.py             # the 10-hour book: 30 chapters of 20 minutes
    python scripts/bench/package.py --hours 1   # a quick run
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mutagen.mp4 import MP4

from khipu.core.ffmpeg import ffmpeg_binary, run_ffmpeg
from khipu.packaging.book import BookMetadata, ChapterAudio, Cover
from khipu.packaging.encoding import read_master_format, worker_count
from khipu.packaging.m4b import M4BOptions, build_m4b

GOAL_RATIO = 1.2
GOAL_RSS_MB = 300
COVER = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "pride-and-prejudice-cover.jpg"
META = BookMetadata(
    title="Benchmark Book",
    author="A. Author",
    narrator="Synthetic Voice",
    publisher="Khipu Bench",
    year=2024,
    genre="Fiction",
    description="A synthetic book for timing the M4B export.",
    language="en",
    isbn="9780000000019",
)


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float  # user + system, the Python process and its ffmpeg children
    self_rss_kb: int
    children_rss_kb: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=10.0, help="book length (default 10)")
    parser.add_argument("--chapters", type=int, default=30, help="chapter count (default 30)")
    parser.add_argument("--bitrate", type=int, default=64, help="AAC kbps (default 64)")
    parser.add_argument("--workdir", type=Path, help="keeps the generated masters between runs")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternating runs of each (best kept)"
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="khipu-bench-package-"))
    masters_dir = workdir / f"masters-{args.hours:g}h-{args.chapters}"
    chapter_seconds = args.hours * 3600 / args.chapters
    print(f"{args.chapters} chapters × {chapter_seconds / 60:.1f} min, {worker_count()} cores")
    started = time.perf_counter()
    masters = generate_masters(masters_dir, count=args.chapters, seconds=chapter_seconds)
    print(f"masters ready in {time.perf_counter() - started:.0f} s (not timed): {masters_dir}")
    warm_page_cache(masters)

    out = workdir / "out"
    baselines, ours = [], []
    for _ in range(args.rounds):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        baselines.append(in_fresh_process(run_baseline, masters, out / "base.m4a", args.bitrate))
        ours.append(in_fresh_process(run_ours, masters, out / "m4b", args.bitrate))
        print(f"round: baseline {baselines[-1].seconds:.1f} s, ours {ours[-1].seconds:.1f} s")
    best = min(baselines, key=lambda run: run.seconds), min(ours, key=lambda run: run.seconds)
    report(*best, out / "m4b", expected_chapters=args.chapters)
    if not args.workdir:
        shutil.rmtree(workdir)


def generate_masters(folder: Path, *, count: int, seconds: float) -> list[Path]:
    """Speech-like masters: band-passed pink noise in syllable bursts and sentence pauses, over a
    -70 dB room-tone bed, with 0.75 s of head and 2.5 s of tail room tone."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"chapter-{number:03d}.flac" for number in range(1, count + 1)]
    missing = [(number, path) for number, path in enumerate(paths, 1) if not path.exists()]

    def write(number: int, path: Path) -> None:
        speech = seconds - 3.25
        graph = (
            f"anoisesrc=colour=pink:sample_rate=44100:amplitude=0.6:seed={number}"
            f":duration={speech:.3f},bandpass=f=900:width_type=o:width=2,"
            "tremolo=f=3.7:d=0.85,"
            "volume='if(lt(mod(t\\,8.3)\\,6.9)\\,1\\,0)':eval=frame,"
            "adelay=750:all=1,apad=pad_dur=2.5[speech];"
            f"anoisesrc=colour=pink:sample_rate=44100:amplitude=0.0006:seed={number + 1000}"
            f":duration={seconds:.3f}[bed];"
            "[speech][bed]amix=inputs=2:normalize=0:duration=shortest"
        )
        partial = path.with_suffix(".partial.flac")
        run_ffmpeg(["-y", "-filter_complex", graph, "-ac", "1", "-c:a", "flac", str(partial)])
        partial.replace(path)

    with ThreadPoolExecutor(max_workers=worker_count()) as pool:
        list(pool.map(lambda item: write(*item), missing))
    return paths


def warm_page_cache(paths: list[Path]) -> None:
    """Read every master once so neither timed run pays for the other's disk reads."""
    for path in paths:
        with path.open("rb") as stream:
            while stream.read(1 << 24):
                pass


def in_fresh_process(function: object, *args: object) -> Run:
    """Run a timed phase in its own spawned interpreter, so its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def run_baseline(masters: list[Path], target: Path, bitrate: int) -> Run:
    listing = target.with_suffix(".txt")
    listing.write_text("".join(f"file '{path}'\n" for path in masters))
    command = [
        ffmpeg_binary(),
        *("-hide_banner", "-nostdin", "-loglevel", "error", "-y"),
        *("-f", "concat", "-safe", "0", "-i", str(listing)),
        *("-c:a", "aac", "-b:a", f"{bitrate}k", "-ac", "1", "-ar", "44100", str(target)),
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return _finished(started)


def run_ours(masters: list[Path], out_dir: Path, bitrate: int) -> Run:
    chapters = [
        ChapterAudio(
            title=f"Chapter {number}",
            master_path=path,
            duration_ms=read_master_format(path).duration_ms,
        )
        for number, path in enumerate(masters, start=1)
    ]
    started = time.perf_counter()
    build_m4b(
        chapters, META, Cover(COVER.read_bytes()), out_dir, options=M4BOptions(bitrate_kbps=bitrate)
    )
    return _finished(started)


def _finished(started: float) -> Run:
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Run(
        seconds=seconds,
        cpu_seconds=own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
        self_rss_kb=own.ru_maxrss,
        children_rss_kb=children.ru_maxrss,
    )


def report(baseline: Run, ours: Run, out_dir: Path, *, expected_chapters: int) -> None:
    (book,) = sorted(out_dir.glob("*.m4b"))
    mp4 = MP4(book)
    chapters = len(mp4.chapters or [])
    ratio = ours.seconds / baseline.seconds
    peak_mb = max(ours.self_rss_kb, ours.children_rss_kb) / 1024
    print(f"output: {book.name}, {mp4.info.length / 3600:.2f} h, {chapters} chapters")
    print(
        f"baseline (one ffmpeg AAC encode): {baseline.seconds:8.1f} s"
        f"   ({baseline.cpu_seconds:.0f} CPU s)"
    )
    print(
        f"ours (build_m4b):                 {ours.seconds:8.1f} s   ({ours.cpu_seconds:.0f} CPU s)"
    )
    print(f"ratio ours/baseline:              {ratio:8.2f}   (goal ≤ {GOAL_RATIO})")
    print(
        f"peak RSS baseline: python {baseline.self_rss_kb / 1024:.0f} MB, "
        f"ffmpeg {baseline.children_rss_kb / 1024:.0f} MB"
    )
    print(
        f"peak RSS ours:     python {ours.self_rss_kb / 1024:.0f} MB, "
        f"largest ffmpeg {ours.children_rss_kb / 1024:.0f} MB   (goal ≤ {GOAL_RSS_MB} MB)"
    )
    verdict = ratio <= GOAL_RATIO and peak_mb <= GOAL_RSS_MB and chapters == expected_chapters
    print("goals met" if verdict else "GOALS NOT MET")


if __name__ == "__main__":
    main()
