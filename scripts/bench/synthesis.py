"""Synthesis benchmark: Piper throughput through the job system versus Piper called directly.

    python scripts/bench/synthesis.py [--words 800] [--repeats 2] [--concurrency 1 4]
                                      [--worker subprocess|inprocess]

Starts throw-away embedded PostgreSQL and Redis, creates a tenant, and imports the corpus EPUB
with `manuscripts.service.import_manuscript`; the first included chapters that reach `--words`
words are the text. Both sides speak the same payloads, built as `khipu/audio/tasks.py` builds
them (and checked against the audio keys the job records). The job's content-addressed cache
speaks a payload that recurs in the text only once (chapter I repeats one line); the direct side
speaks every segment. Each job line says how many segments were cached.

- direct: `PiperEngine().synthesize(payload, voice)` for each segment in turn, in this process;
- job system: a fresh project with the same manuscript, `audio.service.start_synthesis` for those
  chapters, and a real arq worker: `khipu worker` as a subprocess (as production runs it) or an
  in-process `arq.worker.Worker` in this event loop (`--worker inprocess`).

Throughput is audio seconds per wall second. The job's synthesis throughput (the headline) runs
from the `start_synthesis` call to the last segment's audio being recorded (its row's
`updated_at`): commit and enqueue, queue pickup, planning, Piper, storing each WAV and sidecar,
recording each segment row and progress. With stitching it runs to the parent job's
`finished_at` (the chapter's `stitched_at` marks the end of stitching and mastering). Piper is
warmed up on both sides before timing, the sides alternate order across repeats, and each
per-tenant synthesis concurrency gets its own worker. The ratio reported against the goal is the
median over repeats of job / direct, each repeat pairing the two sides under the same machine
load. Goal (issue "Audio production"): job / direct >= 0.85.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote, urlparse
from uuid import UUID

import psutil
from _platform import bench_tenant, embedded_platform
from sqlalchemy import func, select
from sqlmodel import col

from khipu.audio import service as audio
from khipu.audio import voices
from khipu.audio.cache import segment_audio_key
from khipu.audio.engines import PiperEngine, VoiceSpec
from khipu.characters import service as characters
from khipu.config import Settings
from khipu.core.permissions import Principal
from khipu.core.runtime import Runtime
from khipu.jobs import repository as job_rows
from khipu.jobs.models import TERMINAL_STATUSES, Job
from khipu.manuscripts import service as manuscripts
from khipu.manuscripts.lexicon import LexiconEntry
from khipu.manuscripts.models import Chapter, Segment
from khipu.projects import service as projects
from khipu.projects.schemas import ProjectCreate

CORPUS = Path(__file__).parents[2] / "tests" / "fixtures" / "pride-and-prejudice.epub"
WARM_UP_TEXT = b"It is a truth universally acknowledged, that a single man must want a wife.\n"
GOAL_RATIO = 0.85
POLL_SECONDS = 0.5  # detection only: wall times come from the timestamps the worker writes
JOB_TIMEOUT_SECONDS = 3600
WORKER_STOP_SECONDS = 30


@dataclass(frozen=True)
class Utterance:
    """One segment as the chapter job plans it: what Piper is asked to say, and its cache key."""

    payload: str
    voice: VoiceSpec
    audio_key: str


@dataclass(frozen=True)
class Book:
    """The chosen chapters of one imported copy of the manuscript."""

    project_id: UUID
    chapter_ids: tuple[UUID, ...]
    chapter_titles: tuple[str, ...]
    words: int
    utterances: tuple[Utterance, ...]


@dataclass(frozen=True)
class DirectRun:
    audio_s: float
    wall_s: float
    cpu_s: float  # this process, every thread
    load: float


@dataclass(frozen=True)
class JobCpu:
    synthesis_s: float  # the worker process, until every segment was recorded (polled)
    total_s: float  # the worker and its ffmpeg children, whole job
    servers_s: float  # PostgreSQL and Redis, whole job


@dataclass(frozen=True)
class JobRun:
    audio_s: float
    pickup_s: float  # start_synthesis called -> first chapter job running
    synthesis_wall_s: float  # start_synthesis called -> last segment recorded
    total_wall_s: float  # start_synthesis called -> parent job succeeded
    stitch_s: float  # last segment of a chapter recorded -> chapter stitched, summed
    synthesized: int  # segments Piper spoke; the rest repeat an earlier payload (cache hits)
    cached: int
    cpu: JobCpu
    load: float


@dataclass(frozen=True)
class LevelResult:
    concurrency: int
    direct: tuple[DirectRun, ...]
    jobs: tuple[JobRun, ...]
    worker_peak_rss_mb: float | None


class ProcessCpu:
    """CPU seconds (user + system, all threads) of some processes and their descendants."""

    def __init__(self, roots: Sequence[psutil.Process], *, waited_children: bool) -> None:
        self.roots = roots
        # A worker's finished ffmpeg children count once it has waited for them.
        self.waited_children = waited_children

    def seconds(self) -> float:
        total = 0.0
        for root in self.roots:
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = process.cpu_times()
                    total += times.user + times.system
            if self.waited_children:
                times = root.cpu_times()
                total += times.children_user + times.children_system
        return total


@dataclass(frozen=True)
class WorkerProbe:
    pid: int
    cpu: ProcessCpu
    description: str


def peak_rss_mb(pid: int) -> float | None:
    """The process's RSS high-water mark (Linux VmHWM); None where /proc does not say."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def load_1min() -> float:
    return os.getloadavg()[0]


def utterance_of(
    runtime: Runtime,
    segment: Segment,
    *,
    narrator: VoiceSpec,
    cast: dict[UUID, VoiceSpec],
    lexicon: Sequence[LexiconEntry],
    lexicon_version: str,
    language: str,
) -> Utterance:
    """The payload and key `khipu.audio.tasks._plan_segment` makes for this segment."""
    voice = voices.voice_for_segment(
        kind=segment.kind, character_id=segment.character_id, narrator=narrator, cast=cast
    )
    engine = voices.engine_for(runtime, voice.engine)
    payload = engine.payload(segment.text, voice, language=language, lexicon=lexicon)
    return Utterance(payload, voice, segment_audio_key(voice, payload, lexicon_version))


async def import_book(
    runtime: Runtime, principal: Principal, *, data: bytes, filename: str, words: int
) -> Book:
    """A new project with the manuscript imported, and its first included chapters that reach
    `words` words, planned segment by segment."""
    async with runtime.db.transaction(principal.tenant_id) as session:
        project = await projects.create_project(
            session,
            principal,
            ProjectCreate(title="Pride and Prejudice", author="Jane Austen", language="en-GB"),
        )
        await manuscripts.import_manuscript(
            session, runtime, principal, project, filename=filename, data=data
        )
    async with runtime.db.transaction(principal.tenant_id) as session:
        project = await projects.get_project(session, project.id)
        chosen = choose_chapters(
            await manuscripts.chapters_of(session, project.id, included_only=True), words=words
        )
        narrator = voices.narrator_voice(runtime, project.settings, project.language)
        cast = await characters.cast_voices(session, project.id)
        lexicon, lexicon_version = await manuscripts.get_lexicon_entries(session, project.id)
        utterances = [
            utterance_of(
                runtime,
                segment,
                narrator=narrator,
                cast=cast,
                lexicon=lexicon,
                lexicon_version=lexicon_version,
                language=project.language,
            )
            for chapter in chosen
            for segment in await manuscripts.segments_of_chapter(session, chapter.id)
        ]
    return Book(
        project_id=project.id,
        chapter_ids=tuple(c.id for c in chosen),
        chapter_titles=tuple(c.title for c in chosen),
        words=sum(c.word_count for c in chosen),
        utterances=tuple(utterances),
    )


def choose_chapters(chapters: Sequence[Chapter], *, words: int) -> list[Chapter]:
    chosen: list[Chapter] = []
    for chapter in chapters:
        if chosen and sum(c.word_count for c in chosen) >= words:
            break
        chosen.append(chapter)
    return chosen


async def speak_directly(engine: PiperEngine, utterances: Sequence[Utterance]) -> DirectRun:
    load = load_1min()
    cpu_before, started = time.process_time(), time.perf_counter()
    audio_ms = 0
    for utterance in utterances:
        audio_ms += (await engine.synthesize(utterance.payload, utterance.voice)).duration_ms
    return DirectRun(
        audio_s=audio_ms / 1000,
        wall_s=time.perf_counter() - started,
        cpu_s=time.process_time() - cpu_before,
        load=load,
    )


async def synthesize_through_jobs(
    runtime: Runtime,
    principal: Principal,
    book: Book,
    *,
    worker: WorkerProbe,
    servers: ProcessCpu,
) -> JobRun:
    """Start the synthesis as the API does and wait for the worker to finish it."""
    load = load_1min()
    worker_cpu_before, servers_cpu_before = worker.cpu.seconds(), servers.seconds()
    called_at = datetime.now(UTC)
    async with runtime.db.transaction(principal.tenant_id) as session:
        project = await projects.get_project(session, book.project_id)
        parent = await audio.start_synthesis(
            session, runtime, principal, project, list(book.chapter_ids)
        )
        parent_id = parent.id
    synthesis_cpu_s = None
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while True:
        status, voiced = await job_progress(runtime, principal.tenant_id, parent_id, book)
        if synthesis_cpu_s is None and voiced == len(book.utterances):
            synthesis_cpu_s = worker.cpu.seconds() - worker_cpu_before
        if status in TERMINAL_STATUSES:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the synthesis job did not end within {JOB_TIMEOUT_SECONDS} s")
        await asyncio.sleep(POLL_SECONDS)
    total_cpu_s = worker.cpu.seconds() - worker_cpu_before
    cpu = JobCpu(
        synthesis_s=total_cpu_s if synthesis_cpu_s is None else synthesis_cpu_s,
        total_s=total_cpu_s,
        servers_s=servers.seconds() - servers_cpu_before,
    )
    return await job_figures(
        runtime,
        principal.tenant_id,
        book,
        parent_id=parent_id,
        called_at=called_at,
        cpu=cpu,
        load=load,
    )


async def job_progress(
    runtime: Runtime, tenant_id: UUID, parent_id: UUID, book: Book
) -> tuple[str | None, int]:
    """The parent job's status and how many of the book's segments have audio recorded.

    Two indexed scalar queries: loading the rows instead slowed an in-process worker measurably.
    """
    voiced = (
        select(func.count())
        .select_from(Segment)
        .where(col(Segment.chapter_id).in_(book.chapter_ids), col(Segment.audio_key).is_not(None))
    )
    async with runtime.db.transaction(tenant_id) as session:
        status = await session.scalar(select(col(Job.status)).where(col(Job.id) == parent_id))
        return status, await session.scalar(voiced) or 0


async def job_figures(
    runtime: Runtime,
    tenant_id: UUID,
    book: Book,
    *,
    parent_id: UUID,
    called_at: datetime,
    cpu: JobCpu,
    load: float,
) -> JobRun:
    """Timings from the rows the worker wrote, after checking it spoke the book's payloads."""
    async with runtime.db.transaction(tenant_id) as session:
        parent = await job_rows.get(session, parent_id)
        children = await job_rows.children(session, parent_id)
        chapters = [await manuscripts.get_chapter(session, c) for c in book.chapter_ids]
        by_chapter = [await manuscripts.segments_of_chapter(session, c.id) for c in chapters]
    if parent is None or parent.status != "succeeded" or parent.finished_at is None:
        raise SystemExit(f"the synthesis job did not succeed: {parent and parent.error}")
    recorded = [segment.audio_key for segments in by_chapter for segment in segments]
    if recorded != [utterance.audio_key for utterance in book.utterances]:
        raise SystemExit("the job recorded audio for other payloads than the direct run spoke")
    started = [child.started_at for child in children if child.started_at is not None]
    synthesis_end = max(s.updated_at for segments in by_chapter for s in segments)
    stitch_s = sum(
        (chapter.stitched_at - max(s.updated_at for s in segments)).total_seconds()
        for chapter, segments in zip(chapters, by_chapter, strict=True)
        if chapter.stitched_at is not None
    )
    return JobRun(
        audio_s=sum(s.duration_ms or 0 for segments in by_chapter for s in segments) / 1000,
        pickup_s=(min(started) - called_at).total_seconds(),
        synthesis_wall_s=(synthesis_end - called_at).total_seconds(),
        total_wall_s=(parent.finished_at - called_at).total_seconds(),
        stitch_s=stitch_s,
        synthesized=int((parent.result or {}).get("synthesized", 0)),
        cached=int((parent.result or {}).get("cached", 0)),
        cpu=cpu,
        load=load,
    )


async def warm_up_worker(runtime: Runtime, principal: Principal, worker: WorkerProbe) -> float:
    """One tiny synthesis job, so the worker has loaded Piper and opened its pools."""
    book = await import_book(runtime, principal, data=WARM_UP_TEXT, filename="warm-up.txt", words=1)
    started = time.perf_counter()
    await synthesize_through_jobs(
        runtime, principal, book, worker=worker, servers=ProcessCpu([], waited_children=False)
    )
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def subprocess_worker(
    settings: Settings, *, concurrency: int, log: TextIO
) -> AsyncIterator[WorkerProbe]:
    """`khipu worker` with the benchmark's servers and the given per-tenant concurrency."""
    env = {
        **os.environ,
        "KHIPU_HOME": str(settings.home),
        "KHIPU_DATABASE_URL": settings.database_url,
        "KHIPU_REDIS_URL": settings.redis_url,
        "KHIPU_STORAGE_URL": settings.storage_url,
        "KHIPU_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "KHIPU_SYNTHESIS_CONCURRENCY_PER_TENANT": str(concurrency),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "khipu", "worker", env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield WorkerProbe(
            pid=process.pid,
            cpu=ProcessCpu([psutil.Process(process.pid)], waited_children=True),
            description=f"`khipu worker` subprocess (pid {process.pid})",
        )
    finally:
        process.terminate()  # arq finishes gracefully on SIGTERM
        try:
            await asyncio.wait_for(process.wait(), WORKER_STOP_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def inprocess_worker(settings: Settings, *, concurrency: int) -> AsyncIterator[WorkerProbe]:
    """An arq Worker in this event loop, with its own runtime (pools) but this process's Piper."""
    from arq.worker import Worker

    from khipu.worker import worker_settings

    level = settings.model_copy(update={"synthesis_concurrency_per_tenant": concurrency})
    worker = Worker(**worker_settings(level, handle_signals=False))
    task = asyncio.create_task(worker.async_run())
    try:
        yield WorkerProbe(
            pid=os.getpid(),
            cpu=ProcessCpu([psutil.Process()], waited_children=True),
            description="in-process arq Worker (this process, this event loop)",
        )
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await worker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def server_processes(home: Path, redis_url: str) -> list[psutil.Process]:
    """The embedded PostgreSQL postmaster (its backends are its children) and redis-server."""
    postmaster = int((home / "postgres" / "postmaster.pid").read_text().split()[0])
    socket = unquote(urlparse(redis_url).path)
    redis = [
        process
        for process in psutil.process_iter(["cmdline"])
        if any(socket in part for part in process.info["cmdline"] or ())
    ]
    return [psutil.Process(postmaster), *redis]


async def measure_level(
    runtime: Runtime,
    principal: Principal,
    *,
    engine: PiperEngine,
    direct_book: Book,
    corpus: bytes,
    words: int,
    repeats: int,
    worker: WorkerProbe,
    servers: ProcessCpu,
    concurrency: int,
) -> LevelResult:
    warm_s = await warm_up_worker(runtime, principal, worker)
    print(f"\n== concurrency {concurrency}: {worker.description}; warm-up job {warm_s:.1f} s")
    direct: list[DirectRun] = []
    jobs: list[JobRun] = []
    for repeat in range(repeats):
        # Untimed: a fresh project, so nothing is cached from an earlier run.
        book = await import_book(runtime, principal, data=corpus, filename=CORPUS.name, words=words)
        if [u.payload for u in book.utterances] != [u.payload for u in direct_book.utterances]:
            raise SystemExit("the re-imported manuscript planned other payloads")
        job_first = repeat % 2 == 1
        for side in ("job", "direct") if job_first else ("direct", "job"):
            if side == "direct":
                direct.append(await speak_directly(engine, direct_book.utterances))
                print(f"  repeat {repeat + 1} direct: {describe_direct(direct[-1])}")
            else:
                jobs.append(
                    await synthesize_through_jobs(
                        runtime, principal, book, worker=worker, servers=servers
                    )
                )
                print(f"  repeat {repeat + 1} job:    {describe_job(jobs[-1])}")
    return LevelResult(
        concurrency=concurrency,
        direct=tuple(direct),
        jobs=tuple(jobs),
        worker_peak_rss_mb=peak_rss_mb(worker.pid),
    )


def describe_direct(run: DirectRun) -> str:
    return (
        f"{run.audio_s:.1f} s audio in {run.wall_s:.1f} s wall = {run.audio_s / run.wall_s:.2f}x "
        f"real time (RTF {run.wall_s / run.audio_s:.3f}); CPU {run.cpu_s:.1f} s; "
        f"load {run.load:.1f}"
    )


def describe_job(run: JobRun) -> str:
    return (
        f"{run.audio_s:.1f} s audio ({run.synthesized} segments spoken, {run.cached} cached); "
        f"synthesis {run.synthesis_wall_s:.1f} s wall = "
        f"{run.audio_s / run.synthesis_wall_s:.2f}x (RTF {run.synthesis_wall_s / run.audio_s:.3f}, "
        f"pickup {run.pickup_s:.2f} s); with stitching {run.total_wall_s:.1f} s = "
        f"{run.audio_s / run.total_wall_s:.2f}x (stitch {run.stitch_s:.1f} s); worker CPU "
        f"{run.cpu.synthesis_s:.1f} s synthesis / {run.cpu.total_s:.1f} s total, PostgreSQL + "
        f"Redis CPU {run.cpu.servers_s:.1f} s; load {run.load:.1f}"
    )


def report_level(result: LevelResult) -> None:
    direct = [run.audio_s / run.wall_s for run in result.direct]
    synthesis = [run.audio_s / run.synthesis_wall_s for run in result.jobs]
    stitched = [run.audio_s / run.total_wall_s for run in result.jobs]
    pairs = [j / d for j, d in zip(synthesis, direct, strict=True)]
    print(f"-- concurrency {result.concurrency}, throughput in audio s per wall s (best / median):")
    print(f"   direct:                      {max(direct):.2f} / {statistics.median(direct):.2f}")
    print(
        f"   job, synthesis only:         {max(synthesis):.2f} / {statistics.median(synthesis):.2f}"
    )
    print(
        f"   job, with stitch + master:   {max(stitched):.2f} / {statistics.median(stitched):.2f}"
    )
    paired = statistics.median(pairs)
    verdict = "meets" if paired >= GOAL_RATIO else "misses"
    print(
        f"   ratio job/direct, synthesis:  per repeat {', '.join(f'{p:.3f}' for p in pairs)}; "
        f"median of those {paired:.3f} -> {verdict} the goal >= {GOAL_RATIO}"
    )
    print(
        f"     (each repeat pairs the two sides under the same load; best/best "
        f"{max(synthesis) / max(direct):.3f}, median/median "
        f"{statistics.median(synthesis) / statistics.median(direct):.3f})"
    )
    with_stitching = statistics.median(s / d for s, d in zip(stitched, direct, strict=True))
    print(f"   ratio job/direct, with stitching: median of per-repeat ratios {with_stitching:.3f}")
    direct_cpu = statistics.median(run.cpu_s / run.audio_s for run in result.direct)
    job_cpu = statistics.median(run.cpu.synthesis_s / run.audio_s for run in result.jobs)
    print(
        f"   CPU s per audio s (median): direct {direct_cpu:.3f}, job worker during synthesis "
        f"{job_cpu:.3f} (ratio {job_cpu / direct_cpu:.3f})"
    )
    if result.worker_peak_rss_mb is not None:
        print(f"   worker peak RSS: {result.worker_peak_rss_mb:.0f} MB")


async def bench(args: argparse.Namespace, home: Path) -> None:
    print(f"CPUs: {os.cpu_count()}; load average at start: {format_load()}")
    async with embedded_platform(home) as platform:
        runtime, settings = platform.runtime, platform.settings
        principal = await bench_tenant(runtime)
        corpus = CORPUS.read_bytes()
        book = await import_book(
            runtime, principal, data=corpus, filename=CORPUS.name, words=args.words
        )
        if any(u.voice.engine != "piper" for u in book.utterances):
            raise SystemExit("the narrator is not a Piper voice")
        print(
            f"text: {', '.join(book.chapter_titles)} of {CORPUS.name}: {book.words} words, "
            f"{len(book.utterances)} segments, voice {book.utterances[0].voice.voice_id}"
        )
        engine = PiperEngine()
        started = time.perf_counter()
        await engine.synthesize(book.utterances[0].payload, book.utterances[0].voice)
        print(f"direct warm-up (model load + one segment): {time.perf_counter() - started:.1f} s")
        server_cpu = ProcessCpu(server_processes(home, settings.redis_url), waited_children=False)
        results = []
        log_path = home / "worker.log"
        with log_path.open("w") as log, worker_log_shown_on_failure(log_path):
            for concurrency in args.concurrency:
                worker_context = (
                    inprocess_worker(settings, concurrency=concurrency)
                    if args.worker == "inprocess"
                    else subprocess_worker(settings, concurrency=concurrency, log=log)
                )
                async with worker_context as worker:
                    results.append(
                        await measure_level(
                            runtime,
                            principal,
                            engine=engine,
                            direct_book=book,
                            corpus=corpus,
                            words=args.words,
                            repeats=args.repeats,
                            worker=worker,
                            servers=server_cpu,
                            concurrency=concurrency,
                        )
                    )
        print("\n== summary")
        for result in results:
            report_level(result)
        own_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"peak RSS of this process: {own_peak_mb:.0f} MB "
            "(direct Piper; the worker too when in-process)"
        )
        print(f"load average at end: {format_load()}; CPUs: {os.cpu_count()}")


@contextlib.contextmanager
def worker_log_shown_on_failure(path: Path) -> Iterator[None]:
    """The subprocess worker's last log lines when a run fails: they say why."""
    try:
        yield
    except BaseException:
        lines = path.read_text(errors="replace").splitlines()[-20:] if path.exists() else []
        print("\n".join(["-- worker log (last lines):", *lines]), file=sys.stderr)
        raise


def format_load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--words", type=int, default=800, help="take chapters until this many words (800)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side per level (2)")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 4],
        help="synthesis_concurrency_per_tenant levels to measure (1 4)",
    )
    parser.add_argument("--worker", choices=("subprocess", "inprocess"), default="subprocess")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="khipu-bench-synthesis-") as home:
        asyncio.run(bench(args, Path(home)))


if __name__ == "__main__":
    main()
