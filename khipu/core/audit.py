"""The tenant's audit trail: who changed what (users, roles, projects), written in the same
transaction as the change it records."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Index
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field

from khipu.core import logging as log_context
from khipu.core.models import TenantOwned, json_column


class AuditEntry(TenantOwned, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "tenant_id", "created_at"),)

    actor_id: UUID | None = None
    action: str = Field(max_length=100)
    target_type: str = Field(max_length=50)
    target_id: UUID | None = None
    detail: dict[str, Any] = json_column()
    correlation_id: str | None = Field(default=None, max_length=64)


def record(
    session: AsyncSession,
    *,
    tenant_id: UUID,
    actor_id: UUID | None,
    action: str,
    target_type: str,
    target_id: UUID | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEntry(
            tenant_id=tenant_id,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
            correlation_id=log_context.correlation_id.get(),
        )
    )
