"""A job row per unit of long work (a synthesis, one chapter of it, a detection, an export)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, text
from sqlmodel import Field

from khipu.core.models import TenantOwned, json_column, optional_timestamp, tenant_fk

ACTIVE_STATUSES = ("queued", "running")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")


class Job(TenantOwned, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        tenant_fk("project_id", "projects"),
        tenant_fk("parent_id", "jobs"),
        Index(None, "tenant_id", "project_id", "created_at"),
        Index(None, "tenant_id", "parent_id"),
        Index(None, "tenant_id", "status", "heartbeat_at"),
        # At most one queued or running job per (project, kind, scope): asking again returns it.
        Index(
            "uq_jobs_active_scope",
            "tenant_id",
            "project_id",
            "kind",
            "scope",
            unique=True,
            postgresql_where=text("status in ('queued', 'running')"),
        ),
    )

    project_id: UUID
    parent_id: UUID | None = None
    kind: str = Field(max_length=50)
    scope: str = Field(max_length=100)
    status: str = Field(default="queued", max_length=20)
    progress: float = 0.0
    error: str | None = Field(default=None, max_length=4000)
    params: dict[str, Any] = json_column()
    result: dict[str, Any] | None = json_column(default_factory=lambda: None)
    attempt: int = 1
    cancel_requested: bool = False
    created_by: UUID | None = None
    started_at: datetime | None = optional_timestamp()
    heartbeat_at: datetime | None = optional_timestamp()
    finished_at: datetime | None = optional_timestamp()
