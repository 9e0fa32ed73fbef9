"""HTTP load generator for scripts/bench/api.py, run as its own process so it never shares an
interpreter (or a GIL) with the server or the orchestrator.

Reads one JSON spec on stdin, runs a warm-up and then the measured window, and writes one JSON
result on stdout: completions, errors, latency percentiles and the CPU seconds that the client,
the server, PostgreSQL and the whole machine spent during the measured window.

    closed loop: `clients` workers, each sending its next request when the previous one answers.
    open loop:   requests scheduled at a fixed `rate`, whatever the answers; latency is measured
                 from the scheduled send time, so a stalled server cannot hide its queue
                 (no coordinated omission).

aiohttp, not httpx: httpcore's pool rescans its whole queue of waiting requests on every
assignment (encode/httpcore#1035), so once an overloaded server lets thousands of open-loop
requests queue, the client burns a core and becomes the bottleneck it must never be.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import uvloop

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Open loop: connections the client may open; a request waiting for one still counts its
#: wait, because its latency runs from the scheduled time.
OPEN_LOOP_MAX_CONNECTIONS = 256
PERCENTILES = (50, 90, 99, 99.9)


@dataclass(frozen=True)
class LoadSpec:
    base_url: str
    access_token: str
    paths: list[str]
    mode: str  # "closed" or "open"
    duration: float
    warmup: float
    clients: int = 50
    rate: float = 200.0
    timeout: float = 10.0
    seed: int = 1
    server_pid: int = 0
    postmaster_pid: int = 0


@dataclass
class Tally:
    """What one window of load produced."""

    latencies: list[float] = field(default_factory=list)
    send_lags: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    scheduled: int = 0
    first_send: float = 0.0
    last_answer: float = 0.0

    def record(self, started: float, answered: float, outcome: str | None) -> None:
        self.last_answer = max(self.last_answer, answered)
        if outcome is None:
            self.latencies.append(answered - started)
        else:
            self.errors[outcome] += 1


# --- CPU accounting from /proc ---------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may contain spaces; fields resume after ')'.
    return raw[raw.rindex(")") + 2 :].split()


def process_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """utime + stime of every thread of `pid` (plus its reaped children's, if asked)."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # After the ')' field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def children_of(parent: int) -> list[int]:
    children = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == parent:
                    children.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return children


def server_cpu_seconds(server: int) -> float:
    """`khipu up` and its API processes (uvicorn runs one per worker as its children)."""
    return process_cpu_seconds(server) + sum(
        process_cpu_seconds(pid) for pid in children_of(server)
    )


def postgres_cpu_seconds(postmaster: int) -> float:
    """The postmaster, its live backends, and backends that already exited (reaped)."""
    if not postmaster:
        return 0.0
    total = process_cpu_seconds(postmaster, reaped_children=True)
    return total + sum(process_cpu_seconds(pid) for pid in children_of(postmaster))


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle, since boot (from the first line of /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def cpu_snapshot(spec: LoadSpec) -> dict[str, float]:
    return {
        "wall": time.perf_counter(),
        "client": time.process_time(),
        "server": server_cpu_seconds(spec.server_pid) if spec.server_pid else 0.0,
        "postgres": postgres_cpu_seconds(spec.postmaster_pid),
        "machine": machine_busy_seconds(),
    }


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    used = {name: after[name] - before[name] for name in before}
    # Everything busy that is none of ours: other people's work on a shared machine, and Redis.
    used["other"] = used["machine"] - used["client"] - used["server"] - used["postgres"]
    return used


# --- load ----------------------------------------------------------------------------------


async def send(client: aiohttp.ClientSession, path: str) -> str | None:
    """One request; None when it succeeded, else what went wrong."""
    try:
        async with client.get(path) as response:
            await response.read()
            return None if response.status == 200 else f"HTTP {response.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def closed_loop(
    client: aiohttp.ClientSession, spec: LoadSpec, seconds: float, pick: random.Random
) -> Tally:
    tally = Tally(first_send=time.perf_counter())
    deadline = tally.first_send + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            outcome = await send(client, pick.choice(spec.paths))
            tally.record(started, time.perf_counter(), outcome)

    await asyncio.gather(*(worker() for _ in range(spec.clients)))
    return tally


async def open_loop(
    client: aiohttp.ClientSession, spec: LoadSpec, seconds: float, pick: random.Random
) -> Tally:
    interval = 1.0 / spec.rate
    count = round(seconds * spec.rate)
    tally = Tally(first_send=time.perf_counter(), scheduled=count)

    async def scheduled_request(scheduled: float, path: str) -> None:
        tally.send_lags.append(time.perf_counter() - scheduled)
        outcome = await send(client, path)
        tally.record(scheduled, time.perf_counter(), outcome)

    in_flight = set()
    for number in range(count):
        scheduled = tally.first_send + number * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(scheduled_request(scheduled, pick.choice(spec.paths)))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    return tally


def summarise(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    ms = np.asarray(seconds) * 1000.0
    quantiles = np.percentile(ms, PERCENTILES)
    summary = {f"p{p:g}": float(q) for p, q in zip(PERCENTILES, quantiles, strict=True)}
    return {"mean": float(ms.mean()), **summary, "max": float(ms.max())}


async def run(spec: LoadSpec) -> dict[str, Any]:
    pick = random.Random(spec.seed)
    connections = spec.clients if spec.mode == "closed" else OPEN_LOOP_MAX_CONNECTIONS
    load = closed_loop if spec.mode == "closed" else open_loop
    async with aiohttp.ClientSession(
        base_url=spec.base_url,
        headers={"Authorization": f"Bearer {spec.access_token}"},
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=spec.timeout),
    ) as client:
        if spec.warmup > 0:
            await load(client, spec, spec.warmup, pick)
        before = cpu_snapshot(spec)
        tally = await load(client, spec, spec.duration, pick)
        after = cpu_snapshot(spec)
    elapsed = tally.last_answer - tally.first_send
    completed = len(tally.latencies)
    return {
        "mode": spec.mode,
        "completed": completed,
        "scheduled": tally.scheduled,
        "duration_s": spec.duration,
        "errors": dict(tally.errors),
        "elapsed_s": elapsed,
        "throughput_rps": completed / elapsed if elapsed > 0 else 0.0,
        "latency_ms": summarise(tally.latencies),
        "send_lag_ms": summarise(tally.send_lags),
        "cpu_s": cpu_used(before, after),
        "cpu_window_s": after["wall"] - before["wall"],
    }


def main() -> None:
    spec = LoadSpec(**json.loads(sys.stdin.read()))
    result = uvloop.run(run(spec))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
