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
import resource
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from pydantic import SecretStr

from khipu.config import Settings
from khipu.core.embedded import start_embedded
from khipu.core.migrations import ensure_runtime_login, upgrade_async
from khipu.core.permissions import Principal, Role
from khipu.core.runtime import Runtime
from khipu.manuscripts import service as manuscripts
from khipu.manuscripts.document import ImportLimits
from khipu.projects import service as projects
from khipu.projects.schemas import ProjectCreate
from khipu.tenants import service as tenants
from khipu.tenants.schemas import TenantCreate

CORPUS = Path(__file__).parents[2] / "tests" / "fixtures" / "pride-and-prejudice.epub"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bench(runs: int, home: Path) -> None:
    servers = start_embedded(home)
    assert servers.migration_database_url and servers.database_url and servers.redis_url
    await upgrade_async(servers.migration_database_url)
    await ensure_runtime_login(servers.migration_database_url, servers.database_url)
    settings = Settings(
        home=home,
        database_url=servers.database_url,
        redis_url=servers.redis_url,
        jwt_secret=SecretStr("bench-" + "x" * 40),
        argon2_time_cost=1,
        argon2_memory_kib=8192,
    )
    runtime = await Runtime.start(settings)
    try:
        tenant, admin_id = await tenants.create_tenant(
            runtime,
            TenantCreate(
                name="Bench",
                subdomain=f"bench-{uuid.uuid4().hex[:6]}",
                admin_email="a@bench.example",
                admin_password="Bench-Password-1!",
            ),
            client_address=None,
        )
        principal = Principal(user_id=admin_id, tenant_id=tenant.id, role=Role.ADMIN)
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
            async with runtime.db.transaction(tenant.id) as session:
                project = await projects.create_project(
                    session, principal, ProjectCreate(title="Pride")
                )
            started = time.perf_counter()
            async with runtime.db.transaction(tenant.id) as session:
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
        print(f"runs: {runs}, on {__import__('os').cpu_count()} cores")
    finally:
        await runtime.close()
        servers.stop()


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
