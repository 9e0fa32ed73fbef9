"""Reviews of segments by validators and editors; a segment's status follows its latest one."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Index
from sqlmodel import Field

from khipu.core.models import TenantOwned, tenant_fk


class Review(TenantOwned, table=True):
    __tablename__ = "reviews"
    __table_args__ = (
        tenant_fk("segment_id", "segments"),
        tenant_fk("project_id", "projects"),
        Index(None, "tenant_id", "segment_id", "created_at"),
    )

    project_id: UUID
    segment_id: UUID
    reviewer_id: UUID | None = None
    verdict: str = Field(max_length=20)  # "approved" | "flagged"
    comment: str | None = Field(default=None, max_length=2000)
    segment_revision: int
