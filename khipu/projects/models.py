"""Projects and their assigned validators."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, PrimaryKeyConstraint
from sqlmodel import Field, SQLModel

from khipu.core.models import TenantOwned, json_column, tenant_fk, timestamp


class Project(TenantOwned, table=True):
    __tablename__ = "projects"
    __table_args__ = (
        tenant_fk("owner_id", "users", ondelete="RESTRICT"),
        Index(None, "tenant_id", "created_at", "id"),
        Index(None, "tenant_id", "owner_id", "created_at"),
    )

    owner_id: UUID
    title: str = Field(max_length=500)
    author: str | None = Field(default=None, max_length=300)
    narrator: str | None = Field(default=None, max_length=300)
    language: str = Field(default="en-US", max_length=35)
    publisher: str | None = Field(default=None, max_length=300)
    year: int | None = None
    genre: str | None = Field(default=None, max_length=100)
    isbn: str | None = Field(default=None, max_length=20)
    copyright: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=5000)
    settings: dict[str, Any] = json_column()
    updated_at: datetime = timestamp()
    # The cover image, checked by content on upload (JPEG or PNG).
    cover_key: str | None = Field(default=None, max_length=300)
    cover_format: str | None = Field(default=None, max_length=10)
    cover_width: int | None = None
    cover_height: int | None = None


class ProjectMember(SQLModel, table=True):
    """A validator assigned to a project."""

    __tablename__ = "project_members"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "project_id", "user_id"),
        tenant_fk("project_id", "projects"),
        tenant_fk("user_id", "users"),
        Index(None, "tenant_id", "user_id"),
    )

    tenant_id: UUID = Field(foreign_key="tenants.id", ondelete="CASCADE")
    project_id: UUID
    user_id: UUID
    created_at: datetime = timestamp()
