"""Refresh tokens, stored as hashes, grouped in families that rotate on every use."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, Index
from sqlmodel import Field

from khipu.core.models import TenantOwned, optional_timestamp, tenant_fk


class RefreshToken(TenantOwned, table=True):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        tenant_fk("user_id", "users"),
        Index(None, "tenant_id", "user_id"),
        Index(None, "tenant_id", "family_id"),
    )

    user_id: UUID
    family_id: UUID
    token_hash: str = Field(max_length=64)
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    rotated_at: datetime | None = optional_timestamp()
    revoked_at: datetime | None = optional_timestamp()
