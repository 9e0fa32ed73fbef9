"""The tenants directory (not tenant-owned: it is how a request finds its tenant) and the
platform audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlmodel import Field, SQLModel

from khipu.core.models import json_column, timestamp


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    name: str = Field(max_length=200)
    subdomain: str = Field(max_length=63, unique=True)
    plan: str = Field(max_length=20)
    is_active: bool = True
    settings: dict[str, Any] = json_column()
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


class PlatformAuditEntry(SQLModel, table=True):
    """Every platform-admin call: what was done, to which tenant, from where."""

    __tablename__ = "platform_audit_log"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    occurred_at: datetime = timestamp()
    action: str = Field(max_length=100)
    target_tenant: UUID | None = Field(default=None, index=True)
    detail: dict[str, Any] = json_column()
    correlation_id: str | None = Field(default=None, max_length=64)
    client_address: str | None = Field(default=None, max_length=64)
