"""Export packages: every export is a new version, never overwriting an older one."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from khipu.core.models import TenantOwned, json_column, optional_timestamp, tenant_fk


class Package(TenantOwned, table=True):
    __tablename__ = "packages"
    __table_args__ = (
        tenant_fk("project_id", "projects"),
        UniqueConstraint("tenant_id", "project_id", "format", "version"),
        Index(None, "tenant_id", "project_id", "created_at"),
    )

    project_id: UUID
    format: str = Field(max_length=20)  # m4b | acx | zip_mp3 | epub3
    profile: str | None = Field(default=None, max_length=20)  # google | spotify (zip_mp3)
    version: int
    status: str = Field(default="queued", max_length=20)  # queued | running | succeeded | failed
    job_id: UUID | None = None
    blob_key: str | None = Field(default=None, max_length=300)
    filename: str | None = Field(default=None, max_length=255)
    size: int | None = None
    sha256: str | None = Field(default=None, max_length=64)
    report: dict[str, Any] | None = json_column(default_factory=lambda: None)
    error: str | None = Field(default=None, max_length=4000)
    created_by: UUID | None = None
    finished_at: datetime | None = optional_timestamp()
