"""Prometheus metrics: HTTP requests by route and status, latency, and job transitions.

Job counters live in Redis so that every process (API, workers) adds to the same figures; the
`/metrics` endpoint renders them next to the in-process HTTP metrics.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from redis.asyncio import Redis

REGISTRY = CollectorRegistry(auto_describe=True)
JOB_COUNTS_KEY = "khipu:metrics:jobs"

http_requests = Counter(
    "khipu_http_requests",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
http_latency = Histogram(
    "khipu_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


async def count_job_transition(redis: Redis, *, kind: str, status: str) -> None:
    await redis.hincrby(JOB_COUNTS_KEY, f"{kind}|{status}", 1)


async def render(redis: Redis | None) -> bytes:
    text = generate_latest(REGISTRY)
    if redis is None:
        return text
    jobs = CounterMetricFamily(
        "khipu_job_transitions", "Jobs reaching each status, by kind.", labels=["kind", "status"]
    )
    for field, value in (await redis.hgetall(JOB_COUNTS_KEY)).items():
        kind, _, status = (field.decode() if isinstance(field, bytes) else field).partition("|")
        jobs.add_metric([kind, status], float(value))
    registry = CollectorRegistry()
    registry.register(_Static([jobs]))
    return text + generate_latest(registry)


class _Static:
    def __init__(self, families: list[CounterMetricFamily]) -> None:
        self._families = families

    def collect(self) -> list[CounterMetricFamily]:
        return self._families
