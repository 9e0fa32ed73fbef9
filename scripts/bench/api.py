"""Benchmark: the project API under load against `khipu up`, and what row-level security costs.

Starts embedded PostgreSQL and Redis in a fresh KHIPU_HOME, runs `python -m khipu up --no-worker`
against them, provisions tenants (one of them with many projects) through the HTTP API, then:

  (a) closed loop: N clients back to back on `GET /api/v1/projects/{id}` and, separately, on
      `GET /api/v1/projects?limit=100` (first page): requests/s, p50, p99, errors;
  (b) open loop: `GET /api/v1/projects/{id}` scheduled at a fixed rate, latency measured from the
      scheduled send time (no coordinated omission): achieved rate, p50, p99, errors;
  (c) RLS overhead: the SQL the API runs for those reads (captured from the app's repositories),
      against the RLS tables in a transaction that sets the tenant, and against copies without
      RLS in another schema with the tenant filter written as a WHERE clause; interleaved, one
      pool, as the runtime role.

The load generator (`_http_load.py`) is a separate process. Client, server and PostgreSQL share
this machine's cores: every phase reports the CPU each of them used.

    python scripts/bench/api.py            # the issue's defaults (about 3 minutes)
    python scripts/bench/api.py --quick    # 3-second phases on a smaller data set
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import numpy as np
from _http_load import process_cpu_seconds  # this script's sibling, on sys.path as its folder
from sqlalchemy import MetaData, Select, Table, event, select, text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from khipu.core.db import Database, async_url
from khipu.core.embedded import EmbeddedServers, start_embedded
from khipu.core.pagination import PageParams
from khipu.core.permissions import Scope
from khipu.core.rls import RUNTIME_GROUP
from khipu.projects import repository as projects_repository
from khipu.projects.models import Project
from khipu.users import repository as users_repository
from khipu.users.models import User

GOAL_RLS_OVERHEAD = 0.10
GOAL_OPEN_LOOP_P99_MS = 50.0
LOAD_GENERATOR = Path(__file__).with_name("_http_load.py")
PASSWORD = "Correct-Horse-42!"
PAGE_LIMIT = 100
NO_RLS_SCHEMA = "bench_no_rls"
#: The tables the measured reads touch: every request loads its caller (users), then projects.
COPIED_TABLES = ("users", "projects")
#: What `khipu.core.db` runs at the start of every transaction.
SET_TENANT_SQL = "select set_config('app.tenant_id', $1, true)"
PROVISIONING_CONCURRENCY = 16
RLS_WARMUP_ITERATIONS = 200


@dataclass(frozen=True)
class BenchConfig:
    duration: float
    warmup: float
    clients: int
    rate: float
    projects: int
    other_projects: int
    tenants: int
    rls_iterations: int


@dataclass(frozen=True)
class TenantAccount:
    subdomain: str
    tenant_id: UUID
    admin_id: UUID
    email: str


@dataclass(frozen=True)
class Fixture:
    """The provisioned data: the big tenant is `tenants[0]`."""

    tenants: list[TenantAccount]
    big_tenant_projects: list[UUID]
    foreign_project: UUID
    total_projects: int

    @property
    def big(self) -> TenantAccount:
        return self.tenants[0]


@dataclass(frozen=True)
class Stack:
    """`khipu up` and the servers under it."""

    base_url: str
    home: Path
    process: subprocess.Popen[bytes]
    servers: EmbeddedServers

    @property
    def postmaster_pid(self) -> int:
        return int((self.home / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])


@dataclass(frozen=True)
class PhaseResult:
    name: str
    result: dict[str, Any]

    @property
    def errors(self) -> int:
        return sum(self.result["errors"].values())


@dataclass(frozen=True)
class TwinQuery:
    """One read the API runs, as the app sends it (RLS) and as an app without RLS would."""

    name: str
    rls_sql: str
    rls_args: tuple[Any, ...]
    plain_sql: str
    plain_args: tuple[Any, ...]


@dataclass
class Timings:
    query: list[float] = field(default_factory=list)
    transaction: list[float] = field(default_factory=list)
    set_tenant: list[float] = field(default_factory=list)


# --- the stack -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_stack(home: Path) -> Stack:
    """Embedded PostgreSQL and Redis started here, so their URLs (the owner's too) are known;
    `khipu up` gets them as explicit settings, as in production, and migrates on start."""
    servers = start_embedded(home)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("KHIPU_")}
    env.update(
        KHIPU_HOME=str(home),
        KHIPU_DATABASE_URL=servers.database_url or "",
        KHIPU_MIGRATION_DATABASE_URL=servers.migration_database_url or "",
        KHIPU_REDIS_URL=servers.redis_url or "",
    )
    log = (home / "khipu-up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "khipu", "up", "--port", str(port), "--no-worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack = Stack(f"http://127.0.0.1:{port}", home, process, servers)
    try:
        wait_healthy(stack)
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def wait_healthy(stack: Stack, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise RuntimeError(f"khipu up exited:\n{server_log_tail(stack)}")
        try:
            if httpx.get(f"{stack.base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"khipu up did not become healthy:\n{server_log_tail(stack)}")


def server_log_tail(stack: Stack, lines: int = 30) -> str:
    log = stack.home / "khipu-up.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def stop_stack(stack: Stack) -> None:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGTERM)
        try:
            stack.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait()
    stack.servers.stop()


# --- provisioning through the API ----------------------------------------------------------


async def provision(stack: Stack, config: BenchConfig) -> Fixture:
    """Tenants through the platform admin API, projects through each tenant's own API."""
    token = (stack.home / "secrets" / "platform-admin-token").read_text().strip()
    gate = asyncio.Semaphore(PROVISIONING_CONCURRENCY)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as client:
        tenants = await asyncio.gather(
            *(create_tenant(client, gate, token, number) for number in range(config.tenants))
        )
        sizes = [config.projects] + [config.other_projects] * (config.tenants - 1)
        projects = await asyncio.gather(
            *(
                create_projects(client, gate, tenant, count)
                for tenant, count in zip(tenants, sizes, strict=True)
            )
        )
    foreign = next((ids[0] for ids in projects[1:] if ids), None)
    if foreign is None:
        raise SystemExit("need at least two tenants and --other-projects ≥ 1")
    return Fixture(
        tenants=list(tenants),
        big_tenant_projects=projects[0],
        foreign_project=foreign,
        total_projects=sum(len(ids) for ids in projects),
    )


async def create_tenant(
    client: httpx.AsyncClient, gate: asyncio.Semaphore, token: str, number: int
) -> TenantAccount:
    subdomain = f"bench-{number:02d}"
    email = f"admin@{subdomain}.example"
    async with gate:
        response = await client.post(
            "/api/v1/admin/tenants",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "name": f"Bench Press {number:02d}",
                "subdomain": subdomain,
                "plan": "team",
                "admin_email": email,
                "admin_password": PASSWORD,
            },
        )
    body = expect(response, 201)
    return TenantAccount(subdomain, UUID(body["id"]), UUID(body["admin_user_id"]), email)


async def sign_in(client: httpx.AsyncClient, tenant: TenantAccount) -> str:
    response = await client.post(
        "/api/v1/auth/login",
        headers={"X-Tenant-ID": tenant.subdomain},
        json={"email": tenant.email, "password": PASSWORD},
    )
    return str(expect(response, 200)["access_token"])


async def create_projects(
    client: httpx.AsyncClient, gate: asyncio.Semaphore, tenant: TenantAccount, count: int
) -> list[UUID]:
    async with gate:
        access = await sign_in(client, tenant)
    headers = {"Authorization": f"Bearer {access}"}

    async def create(number: int) -> UUID:
        async with gate:
            response = await client.post(
                "/api/v1/projects", headers=headers, json=project_fields(tenant, number)
            )
        return UUID(expect(response, 201)["id"])

    return list(await asyncio.gather(*(create(number) for number in range(count))))


def project_fields(tenant: TenantAccount, number: int) -> dict[str, Any]:
    return {
        "title": f"{tenant.subdomain} book {number:04d}",
        "author": f"Author {number % 97}",
        "narrator": f"Narrator {number % 13}",
        "language": "en-GB",
        "publisher": "Bench Press",
        "year": 1900 + number % 120,
        "genre": "Fiction",
        "description": "A benchmark book. " * 10,
    }


def expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status}: {response.text[:500]}"
        )
    return response.json()


async def check_reads(stack: Stack, fixture: Fixture) -> str:
    """The reads under test answer what they should, and another tenant's project is a 404:
    the load measures working, isolated reads. Returns a fresh access token."""
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as client:
        access = await sign_in(client, fixture.big)
        headers = {"Authorization": f"Bearer {access}"}
        own = fixture.big_tenant_projects[0]
        read = expect(await client.get(f"/api/v1/projects/{own}", headers=headers), 200)
        page = expect(
            await client.get(f"/api/v1/projects?limit={PAGE_LIMIT}", headers=headers), 200
        )
        foreign = await client.get(f"/api/v1/projects/{fixture.foreign_project}", headers=headers)
    ours = set(fixture.big_tenant_projects)
    expected_items = min(PAGE_LIMIT, len(ours))
    if UUID(read["id"]) != own:
        raise RuntimeError("the single read returned another project")
    if len(page["items"]) != expected_items or not {UUID(p["id"]) for p in page["items"]} <= ours:
        raise RuntimeError("the list page is not the first page of the tenant's own projects")
    if foreign.status_code != 404:
        raise RuntimeError(f"another tenant's project answered {foreign.status_code}, not 404")
    return access


# --- HTTP load -----------------------------------------------------------------------------


def run_load(
    stack: Stack,
    config: BenchConfig,
    *,
    access_token: str,
    paths: Sequence[str],
    mode: str,
    clients: int,
) -> dict[str, Any]:
    spec = {
        "base_url": stack.base_url,
        "access_token": access_token,
        "paths": list(paths),
        "mode": mode,
        "duration": config.duration,
        "warmup": config.warmup,
        "clients": clients,
        "rate": config.rate,
        "server_pid": stack.process.pid,
        "postmaster_pid": stack.postmaster_pid,
    }
    finished = subprocess.run(
        [sys.executable, str(LOAD_GENERATOR)],
        input=json.dumps(spec).encode(),
        capture_output=True,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{finished.stderr.decode()[-3000:]}")
    return json.loads(finished.stdout)  # type: ignore[no-any-return]


def run_http_phases(stack: Stack, fixture: Fixture, config: BenchConfig) -> list[PhaseResult]:
    single = [f"/api/v1/projects/{project}" for project in fixture.big_tenant_projects]
    page = [f"/api/v1/projects?limit={PAGE_LIMIT}"]
    phases = [
        (f"(a) closed, {config.clients} clients, single read", single, "closed", config.clients),
        (f"(a) closed, {config.clients} clients, list page", page, "closed", config.clients),
        (f"(b) open, {config.rate:g} req/s, single read", single, "open", config.clients),
        ("(ref) closed, 1 client, single read", single, "closed", 1),
    ]
    results = []
    for name, paths, mode, clients in phases:
        wait_until_server_idle(stack)
        # A fresh sign-in per phase keeps long --duration runs inside the token's lifetime.
        access = asyncio.run(check_reads(stack, fixture))
        print(f"… {name}: {config.warmup:g} s warm-up, {config.duration:g} s measured")
        result = run_load(
            stack, config, access_token=access, paths=paths, mode=mode, clients=clients
        )
        results.append(PhaseResult(name, result))
        print_phase(results[-1], cores=os.cpu_count() or 1)
    return results


def wait_until_server_idle(stack: Stack, *, timeout: float = 180) -> None:
    """An overloaded server goes on working through requests whose clients gave up; the next
    phase starts once it has drained (under 5% of a core for a second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = process_cpu_seconds(stack.process.pid)
        time.sleep(1)
        if process_cpu_seconds(stack.process.pid) - before < 0.05:
            return
    raise RuntimeError("khipu up is still busy long after the last phase ended")


def print_phase(phase: PhaseResult, *, cores: int) -> None:
    result, latency = phase.result, phase.result["latency_ms"]
    print(
        f"    {result['completed']} ok, {phase.errors} errors {result['errors'] or ''} in "
        f"{result['elapsed_s']:.1f} s: {result['throughput_rps']:.0f} req/s; latency ms "
        f"mean {latency.get('mean', 0):.1f} p50 {latency.get('p50', 0):.1f} "
        f"p90 {latency.get('p90', 0):.1f} p99 {latency.get('p99', 0):.1f} "
        f"max {latency.get('max', 0):.1f}"
    )
    if result["mode"] == "open":
        lag = result["send_lag_ms"]
        print(
            f"    offered {result['scheduled'] / result['duration_s']:.0f} req/s "
            f"({result['scheduled']} scheduled); client send lag behind schedule: "
            f"p50 {lag.get('p50', 0):.2f} ms, p99 {lag.get('p99', 0):.2f} ms, "
            f"max {lag.get('max', 0):.2f} ms"
        )
    print(f"    {cpu_line(result, cores=cores)}")


def cpu_line(result: dict[str, Any], *, cores: int) -> str:
    cpu, window = result["cpu_s"], max(result["cpu_window_s"], 1e-9)
    completed = max(result["completed"], 1)
    shares = ", ".join(
        f"{name} {cpu[name] / window:.2f}"
        for name in ("client", "server", "postgres", "other", "machine")
    )
    per_request = ", ".join(
        f"{name} {cpu[name] / completed * 1000:.2f}" for name in ("client", "server", "postgres")
    )
    return f"CPU cores busy (of {cores}): {shares}; CPU ms per request: {per_request}"


# --- RLS overhead at the SQL level ---------------------------------------------------------


async def measure_rls_overhead(
    servers: EmbeddedServers, fixture: Fixture, config: BenchConfig
) -> dict[str, dict[str, Timings]]:
    owner_url, runtime_url = servers.migration_database_url, servers.database_url
    if not owner_url or not runtime_url:
        raise RuntimeError("the embedded PostgreSQL did not report its URLs")
    await copy_without_rls(owner_url)
    twins = await twin_queries(runtime_url, fixture)
    for twin in twins:
        print(f"    {twin.name}, as the API sends it (RLS adds the tenant):")
        print("      " + " ".join(twin.rls_sql.split()))
        print("    … and without RLS:")
        print("      " + " ".join(twin.plain_sql.split()))
    pool = await asyncpg.create_pool(driver_dsn(runtime_url), min_size=1, max_size=2)
    try:
        await print_plans(pool, twins, fixture.big.tenant_id)
        await check_same_rows(pool, twins, fixture.big.tenant_id)
        await time_twins(pool, twins, fixture.big.tenant_id, RLS_WARMUP_ITERATIONS)
        return await time_twins(pool, twins, fixture.big.tenant_id, config.rls_iterations)
    finally:
        await pool.close()


async def copy_without_rls(owner_url: str) -> None:
    """`LIKE … INCLUDING ALL` copies columns, defaults, the primary key and every index, but
    not the policies. The owner is subject to RLS too (FORCE), so each tenant's rows are copied
    in that tenant's context; then both sides get fresh statistics."""
    engine = create_async_engine(async_url(owner_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"create schema {NO_RLS_SCHEMA}"))
            for table in COPIED_TABLES:
                copy = f"{NO_RLS_SCHEMA}.{table} (like public.{table} including all)"
                await conn.execute(text(f"create table {copy}"))
            tenant_ids = (await conn.scalars(text("select id from tenants"))).all()
        for tenant_id in tenant_ids:
            async with engine.begin() as conn:
                await conn.execute(
                    text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)}
                )
                for table in COPIED_TABLES:
                    copy = f"insert into {NO_RLS_SCHEMA}.{table} select * from public.{table}"  # noqa: S608 - constant names
                    await conn.execute(text(copy))
        async with engine.begin() as conn:
            await conn.execute(text(f"grant usage on schema {NO_RLS_SCHEMA} to {RUNTIME_GROUP}"))
            await conn.execute(
                text(f"grant select on all tables in schema {NO_RLS_SCHEMA} to {RUNTIME_GROUP}")
            )
            for table in COPIED_TABLES:
                await conn.execute(text(f"analyze public.{table}"))
                await conn.execute(text(f"analyze {NO_RLS_SCHEMA}.{table}"))
    finally:
        await engine.dispose()


def user_by_id(users: Table, user_id: UUID) -> Select[Any]:
    return select(users).where(users.c.id == user_id)


def project_by_id(projects: Table, project_id: UUID) -> Select[Any]:
    return select(projects).where(projects.c.id == project_id)


def first_project_page(projects: Table, limit: int) -> Select[Any]:
    # paginate() fetches one row more than the page to know whether there is a next page.
    order = (projects.c.created_at.desc(), projects.c.id.desc())
    return select(projects).order_by(*order).limit(limit + 1)


def driver_sql(statement: Select[Any]) -> tuple[str, tuple[Any, ...]]:
    compiled = statement.compile(dialect=PGDialect_asyncpg())
    params = compiled.construct_params()
    return compiled.string, tuple(params[name] for name in compiled.positiontup or ())


async def app_sql(runtime_url: str, fixture: Fixture) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements the app's own repositories send for the caller, one project, one page."""
    database = Database(runtime_url)
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, tuple(parameters)))

    event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        big = fixture.big
        async with database.transaction(big.tenant_id) as session:
            await users_repository.get(session, big.admin_id)
            await projects_repository.get(session, fixture.big_tenant_projects[0])
            await projects_repository.list_page(
                session, scope=Scope.ALL, user_id=big.admin_id, params=PageParams(PAGE_LIMIT)
            )
    finally:
        await database.dispose()
    (set_tenant, _), *reads = sent
    if " ".join(set_tenant.split()) != SET_TENANT_SQL:
        raise RuntimeError(f"the app now sets the tenant with {set_tenant!r}; update the benchmark")
    return reads


async def twin_queries(runtime_url: str, fixture: Fixture) -> list[TwinQuery]:
    """Each read as the app sends it, and its twin on the copies with the tenant filter. The
    twins are built from the same expressions, which must compile to exactly the app's SQL, so
    a change in the repositories stops the benchmark instead of measuring something else."""
    copies = MetaData()
    users, projects = User.__table__, Project.__table__
    plain_users = users.to_metadata(copies, schema=NO_RLS_SCHEMA)  # type: ignore[attr-defined]
    plain_projects = projects.to_metadata(copies, schema=NO_RLS_SCHEMA)  # type: ignore[attr-defined]
    tenant_id, project_id = fixture.big.tenant_id, fixture.big_tenant_projects[0]
    reads = [
        ("caller (users by id)", user_by_id, users, plain_users, fixture.big.admin_id),
        ("single project", project_by_id, projects, plain_projects, project_id),
        (f"first page of {PAGE_LIMIT}", first_project_page, projects, plain_projects, PAGE_LIMIT),
    ]
    sent = await app_sql(runtime_url, fixture)
    twins = []
    for (name, build, table, plain_table, argument), (app_statement, app_args) in zip(
        reads, sent, strict=True
    ):
        rls_sql, rls_args = driver_sql(build(table, argument))
        if " ".join(rls_sql.split()) != " ".join(app_statement.split()) or rls_args != app_args:
            raise RuntimeError(
                f"the app's SQL for {name} changed; update the benchmark's twin:\n{app_statement}"
            )
        plain = build(plain_table, argument).where(plain_table.c.tenant_id == tenant_id)
        plain_sql, plain_args = driver_sql(plain)
        twins.append(TwinQuery(name, app_statement, app_args, plain_sql, plain_args))
    return twins


def driver_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def print_plans(pool: asyncpg.Pool, twins: list[TwinQuery], tenant_id: UUID) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.fetchval(SET_TENANT_SQL, str(tenant_id))
        for twin in twins:
            for label, sql, args in (
                ("RLS", twin.rls_sql, twin.rls_args),
                ("no RLS", twin.plain_sql, twin.plain_args),
            ):
                plan = await conn.fetch(f"explain (costs off) {sql}", *args)
                steps = " → ".join(row[0].strip().lstrip("-> ") for row in plan)
                print(f"    plan, {twin.name}, {label}: {steps}")


async def check_same_rows(pool: asyncpg.Pool, twins: list[TwinQuery], tenant_id: UUID) -> None:
    async with pool.acquire() as conn:
        for twin in twins:
            async with conn.transaction():
                await conn.fetchval(SET_TENANT_SQL, str(tenant_id))
                with_rls = await conn.fetch(twin.rls_sql, *twin.rls_args)
            without = await conn.fetch(twin.plain_sql, *twin.plain_args)
            if [tuple(r) for r in with_rls] != [tuple(r) for r in without] or not with_rls:
                raise RuntimeError(f"{twin.name}: the RLS and no-RLS reads return different rows")


async def time_twins(
    pool: asyncpg.Pool, twins: list[TwinQuery], tenant_id: UUID, iterations: int
) -> dict[str, dict[str, Timings]]:
    """Each iteration runs every read once with and once without RLS, in random order, on a
    connection from the same pool; each run is a whole transaction as the app has it."""
    timings = {twin.name: {"RLS": Timings(), "no RLS": Timings()} for twin in twins}
    order = random.Random(7)
    tenant = str(tenant_id)
    for _ in range(iterations):
        for twin in twins:
            variants = [True, False]
            order.shuffle(variants)
            for with_rls in variants:
                async with pool.acquire() as conn:
                    if with_rls:
                        await timed_transaction(
                            conn, timings[twin.name]["RLS"], twin.rls_sql, twin.rls_args, tenant
                        )
                    else:
                        await timed_transaction(
                            conn, timings[twin.name]["no RLS"], twin.plain_sql, twin.plain_args
                        )
    return timings


async def timed_transaction(
    conn: asyncpg.Connection,
    timings: Timings,
    sql: str,
    args: tuple[Any, ...],
    tenant: str | None = None,
) -> None:
    began = time.perf_counter()
    transaction = conn.transaction()
    await transaction.start()
    if tenant is not None:
        before_set = time.perf_counter()
        await conn.fetchval(SET_TENANT_SQL, tenant)
        timings.set_tenant.append(time.perf_counter() - before_set)
    before_query = time.perf_counter()
    await conn.fetch(sql, *args)
    timings.query.append(time.perf_counter() - before_query)
    await transaction.commit()
    timings.transaction.append(time.perf_counter() - began)


def micro(seconds: list[float]) -> dict[str, float]:
    us = np.asarray(seconds) * 1e6
    p50, p99 = np.percentile(us, [50, 99])
    return {"mean": float(us.mean()), "p50": float(p50), "p99": float(p99)}


# --- report --------------------------------------------------------------------------------


def print_rls_table(timings: dict[str, dict[str, Timings]]) -> dict[str, list[float]]:
    """Per read: query alone and whole transaction, with and without RLS. Returns, for each of
    the two, the median ratios RLS / no RLS: medians, because on a shared machine other
    people's work lands in the tails, and interleaving spreads it over both sides only on
    average."""
    print(
        f"\n{'read':<22} {'measured':<12} {'RLS µs mean/p50/p99':>22} "
        f"{'no RLS µs mean/p50/p99':>24} {'ratio mean':>10} {'ratio p50':>9}"
    )
    ratios: dict[str, list[float]] = {"query": [], "transaction": []}
    for name, variants in timings.items():
        for measured in ("query", "transaction"):
            rls = micro(getattr(variants["RLS"], measured))
            plain = micro(getattr(variants["no RLS"], measured))
            ratio_mean, ratio_p50 = rls["mean"] / plain["mean"], rls["p50"] / plain["p50"]
            ratios[measured].append(ratio_p50)
            print(
                f"{name:<22} {measured:<12} "
                f"{rls['mean']:>8.0f}/{rls['p50']:>5.0f}/{rls['p99']:>6.0f} "
                f"{plain['mean']:>10.0f}/{plain['p50']:>5.0f}/{plain['p99']:>6.0f} "
                f"{ratio_mean:>10.3f} {ratio_p50:>9.3f}"
            )
    set_tenant = micro([s for v in timings.values() for s in v["RLS"].set_tenant])
    print(
        f"{'set_config (RLS only)':<22} {'round trip':<12} "
        f"{set_tenant['mean']:>8.0f}/{set_tenant['p50']:>5.0f}/{set_tenant['p99']:>6.0f}"
    )
    print(
        "  'query' is the read alone: what the policy costs PostgreSQL to plan and run (the\n"
        "  tenant comes from an InitPlan on current_setting instead of a bound parameter).\n"
        "  'transaction' is BEGIN + [set_config] + read + COMMIT, so it adds the extra\n"
        "  set_config round trip RLS needs. Neither includes SQLAlchemy, the pool checkout's\n"
        "  pre-ping or HTTP: raw asyncpg on one pooled connection, a floor for each cost."
    )
    return ratios


def http_level_estimate(
    timings: dict[str, dict[str, Timings]], unloaded: PhaseResult
) -> tuple[float, float]:
    """RLS's cost in an unloaded single read, in ms, and that request's mean latency. A request
    runs the tenant lookup and its unit of work, each a transaction that sets the tenant
    (2 × set_config), and two RLS-filtered reads (the caller and the project)."""
    set_tenant = np.mean([s for v in timings.values() for s in v["RLS"].set_tenant])
    policy = sum(
        np.mean(timings[name]["RLS"].query) - np.mean(timings[name]["no RLS"].query)
        for name in ("caller (users by id)", "single project")
    )
    return float(2 * set_tenant + policy) * 1000, unloaded.result["latency_ms"]["mean"]


def print_summary(
    phases: list[PhaseResult],
    rls_ratios: dict[str, list[float]],
    estimate: tuple[float, float],
    *,
    cores: int,
) -> None:
    print(f"\n{'phase':<44} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  CPU cores")
    for phase in phases:
        result, latency = phase.result, phase.result["latency_ms"]
        cpu, window = result["cpu_s"], max(result["cpu_window_s"], 1e-9)
        print(
            f"{phase.name:<44} {result['throughput_rps']:>7.0f} {latency.get('p50', 0):>8.1f} "
            f"{latency.get('p99', 0):>8.1f} {phase.errors:>7}  "
            f"client {cpu['client'] / window:.2f} server {cpu['server'] / window:.2f} "
            f"pg {cpu['postgres'] / window:.2f} other {cpu['other'] / window:.2f}"
        )
    print(f"(client, server and PostgreSQL share this machine's {cores} cores)")
    open_loop = next(p for p in phases if p.result["mode"] == "open")
    p99 = open_loop.result["latency_ms"].get("p99", float("inf"))
    extra_ms, request_ms = estimate
    print(
        f"\ngoal p99 ≤ {GOAL_OPEN_LOOP_P99_MS:g} ms in (b): {p99:.1f} ms → "
        f"{'met' if p99 <= GOAL_OPEN_LOOP_P99_MS else 'MISSED'}"
    )
    for measured, label in (
        ("query", "the same queries"),
        ("transaction", "whole transactions, with the set_config round trip"),
    ):
        worst = max(rls_ratios[measured]) - 1
        verdict = "met" if worst <= GOAL_RLS_OVERHEAD else "MISSED"
        print(
            f"goal RLS overhead ≤ {GOAL_RLS_OVERHEAD:.0%}, {label} (worst median of "
            f"{len(rls_ratios[measured])} reads): {worst:+.1%} → {verdict}"
        )
    print(
        f"RLS at the HTTP level (estimate, unloaded single read): ≈ {extra_ms:.2f} ms of a "
        f"{request_ms:.2f} ms request, {extra_ms / request_ms:.1%} (2 set_config round trips "
        "+ the policy's cost on 2 reads, driver-level floors)"
    )


# --- main ----------------------------------------------------------------------------------


def parse_config(argv: Sequence[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, help="seconds per measured phase (20)")
    parser.add_argument("--clients", type=int, default=50, help="closed-loop clients (50)")
    parser.add_argument("--rate", type=float, default=200, help="open-loop requests/s (200)")
    parser.add_argument("--projects", type=int, help="projects of the big tenant (1000)")
    parser.add_argument("--tenants", type=int, default=20, help="tenants (20)")
    parser.add_argument("--other-projects", type=int, help="projects of each other tenant (50)")
    parser.add_argument("--rls-iterations", type=int, help="interleaved SQL iterations (3000)")
    parser.add_argument("--quick", action="store_true", help="3-second phases, smaller data set")
    args = parser.parse_args(argv)
    if args.tenants < 2:
        parser.error("--tenants must be at least 2 (isolation is checked against another tenant)")
    quick = args.quick

    def pick(value: Any, normal: Any, smoke: Any) -> Any:
        return value if value is not None else (smoke if quick else normal)

    return BenchConfig(
        duration=pick(args.duration, 20.0, 3.0),
        warmup=3.0 if not quick else 1.0,
        clients=args.clients,
        rate=args.rate,
        projects=pick(args.projects, 1000, 200),
        other_projects=pick(args.other_projects, 50, 5),
        tenants=args.tenants,
        rls_iterations=pick(args.rls_iterations, 3000, 300),
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)
    cores = os.cpu_count() or 1
    load = os.getloadavg()
    print(
        f"{cores} cores shared by the load generator, khipu up and PostgreSQL; "
        f"load average before the run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    home = Path(tempfile.mkdtemp(prefix="khipu-bench-api-"))
    stack = None
    try:
        started = time.perf_counter()
        stack = start_stack(home)
        print(f"khipu up healthy at {stack.base_url} in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        fixture = asyncio.run(provision(stack, config))
        print(
            f"provisioned through the API in {time.perf_counter() - started:.1f} s: "
            f"{len(fixture.tenants)} tenants, {len(fixture.big_tenant_projects)} projects in "
            f"{fixture.big.subdomain}, {config.other_projects} in each other tenant "
            f"({fixture.total_projects} in all)"
        )
        phases = run_http_phases(stack, fixture, config)
        print(f"… (c) RLS overhead, {config.rls_iterations} interleaved iterations")
        timings = asyncio.run(measure_rls_overhead(stack.servers, fixture, config))
        rls_ratios = print_rls_table(timings)
        print_summary(phases, rls_ratios, http_level_estimate(timings, phases[-1]), cores=cores)
        load = os.getloadavg()
        print(f"load average after the run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        return 1 if any(phase.errors for phase in phases) else 0
    finally:
        if stack is not None:
            stop_stack(stack)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
