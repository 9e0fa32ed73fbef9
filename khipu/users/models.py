"""Users belong to one tenant; an email is unique within it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from khipu.core.models import TenantOwned, optional_timestamp, timestamp


class User(TenantOwned, table=True):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        UniqueConstraint("tenant_id", "entra_object_id"),
    )

    email: str = Field(max_length=320)
    password_hash: str | None = Field(default=None, max_length=200)
    role: str = Field(max_length=20)
    is_active: bool = True
    entra_object_id: str | None = Field(default=None, max_length=64)
    updated_at: datetime = timestamp()
    password_changed_at: datetime | None = optional_timestamp()
