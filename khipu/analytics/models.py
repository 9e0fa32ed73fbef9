"""One row per billable call: a synthesis, an LLM request, a preview."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from sqlalchemy import Index, Numeric
from sqlmodel import Field

from khipu.core.models import TenantOwned, tenant_fk


class UsageEvent(TenantOwned, table=True):
    __tablename__ = "usage_events"
    __table_args__ = (
        # Usage outlives a deleted project: it was spent all the same.
        tenant_fk("project_id", "projects", ondelete="SET NULL (project_id)"),
        Index(None, "tenant_id", "created_at"),
        Index(None, "tenant_id", "project_id", "created_at"),
    )

    project_id: UUID | None = None  # None for voice previews outside a project
    kind: str = Field(max_length=20)  # "tts" | "llm"
    engine: str = Field(max_length=30)
    characters: int = 0
    tokens: int = 0
    cost_usd: Decimal = Field(default=Decimal(0), sa_type=Numeric(14, 6))  # type: ignore[call-overload]
