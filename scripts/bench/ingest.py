"""Ingest benchmark: upload, parse, segment and store the corpus EPUB through the service layer.

    python scripts/bench/ingest.py [--runs 5]

Starts throw-away embedded PostgreSQL and Redis, creates a tenant and a project, then times
`manuscripts.service.import_manuscript` end to end (parse, segment, blob write, chapter and
segment inserts, commit). Prints wall time, words per second and peak RSS of this process.
Goals (issue "Manuscripts"): <= 2 s and <= 300 MB peak.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from _platform import bench_tenant, embedded_platform

from khipu.manuscripts import service as manuscripts
from khipu.manuscripts.document import ImportLimits
from khipu.projects import service as projects
from khipu.projects.schemas import ProjectCreate

CORPUS = Path(__file__).parents[2] / "tests" / "fixtures" / "pride-and-prejudice.epub"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bench(runs: int, home: Path) -> None:
    async with embedded_platform(home) as platform:
        runtime, settings = platform.runtime, platform.settings
        principal = await bench_tenant(runtime)
        data = CORPUS.read_bytes()
        rss_before = peak_rss_mb()
        parse_times = []
        for _ in range(runs):
            started = time.perf_counter()
            manuscripts.parse_and_segment(
                data,
                limits=ImportLimits(),
                filename="pride.epub",
                max_chars=settings.segment_max_chars,
            )
            parse_times.append(time.perf_counter() - started)
        import_times, words = [], 0
        for _ in range(runs):
            async with runtime.db.transaction(principal.tenant_id) as session:
                project = await projects.create_project(
                    session, principal, ProjectCreate(title="Pride")
                )
            started = time.perf_counter()
            async with runtime.db.transaction(principal.tenant_id) as session:
                project = await projects.get_project(session, project.id)
                summary = await manuscripts.import_manuscript(
                    session, runtime, principal, project, filename="pride.epub", data=data
                )
            import_times.append(time.perf_counter() - started)
            words = summary.words
        best, median = min(import_times), statistics.median(import_times)
        print(
            f"corpus: {CORPUS.name}, {len(data) / 1e6:.2f} MB, {summary.chapters} chapters, "
            f"{summary.segments} segments, {words:,} words (included chapters)"
        )
        parse_best, parse_median = min(parse_times), statistics.median(parse_times)
        print(f"parse + segment only:       best {parse_best:.3f} s, median {parse_median:.3f} s")
        print(
            f"import through the service: best {best:.3f} s, median {median:.3f} s  (goal <= 2 s)"
        )
        print(f"throughput:                 {words / median:,.0f} words/s (median run)")
        print(
            f"peak RSS of this process:   {peak_rss_mb():.0f} MB (was {rss_before:.0f} MB before "
            "the imports; goal <= 300 MB; PostgreSQL and Redis run in their own processes)"
        )
        print(f"runs: {runs}, on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="khipu-bench-") as home:
        asyncio.run(bench(args.runs, Path(home)))


if __name__ == "__main__":
    main()
