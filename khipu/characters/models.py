"""Characters found in a project's manuscript, with their aliases and cast voice."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index
from sqlmodel import Field

from khipu.core.models import TenantOwned, json_column, tenant_fk, timestamp


class Character(TenantOwned, table=True):
    __tablename__ = "characters"
    __table_args__ = (
        tenant_fk("project_id", "projects"),
        Index(None, "tenant_id", "project_id", "name"),
    )

    project_id: UUID
    name: str = Field(max_length=200)
    aliases: list[str] = json_column(default_factory=list)
    gender: str = Field(default="unknown", max_length=10)
    description: str | None = Field(default=None, max_length=2000)
    voice: dict[str, Any] | None = json_column(default_factory=lambda: None)
    #: Set once a person edits the character: detection keeps its name, aliases and gender.
    user_edited: bool = False
    updated_at: datetime = timestamp()
