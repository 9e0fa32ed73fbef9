"""Manuscript versions, the chapters and segments of the current version, and the lexicon.

A segment is the unit of synthesis; its `audio_key` is the content hash of the audio that was made
for it (engine, voice, settings, the exact SSML or text, lexicon version). A chapter keeps the
digest of what its master was stitched from, so only changed chapters are re-stitched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from khipu.core.models import TenantOwned, json_column, optional_timestamp, tenant_fk, timestamp


class Manuscript(TenantOwned, table=True):
    __tablename__ = "manuscripts"
    __table_args__ = (
        tenant_fk("project_id", "projects"),
        UniqueConstraint("tenant_id", "project_id", "version"),
    )

    project_id: UUID
    version: int
    format: str = Field(max_length=10)
    filename: str = Field(max_length=255, description="As uploaded; shown to users, never a path.")
    size: int
    sha256: str = Field(max_length=64)
    blob_key: str = Field(max_length=300)
    title: str | None = Field(default=None, max_length=500)
    author: str | None = Field(default=None, max_length=300)
    language: str | None = Field(default=None, max_length=35)
    chapter_count: int = 0
    segment_count: int = 0
    word_count: int = 0
    created_by: UUID | None = None


class Chapter(TenantOwned, table=True):
    __tablename__ = "chapters"
    __table_args__ = (
        tenant_fk("project_id", "projects"),
        tenant_fk("manuscript_id", "manuscripts"),
        Index(None, "tenant_id", "project_id", "position"),
    )

    project_id: UUID
    manuscript_id: UUID
    position: int
    title: str = Field(max_length=500)
    kind: str = Field(max_length=20)
    included: bool = True
    word_count: int = 0
    segment_count: int = 0
    # The stitched audio of the chapter (written by the audio module through this module's service).
    audio_digest: str | None = Field(default=None, max_length=64)
    master_key: str | None = Field(default=None, max_length=300)
    preview_key: str | None = Field(default=None, max_length=300)
    duration_ms: int | None = None
    audio_report: dict[str, Any] | None = json_column(default_factory=lambda: None)
    stitched_at: datetime | None = optional_timestamp()


class Segment(TenantOwned, table=True):
    __tablename__ = "segments"
    __table_args__ = (
        tenant_fk("project_id", "projects"),
        tenant_fk("chapter_id", "chapters"),
        # PostgreSQL 15+: on delete, clear only the speaker, not the tenant column of the key.
        tenant_fk("character_id", "characters", ondelete="SET NULL (character_id)"),
        Index(None, "tenant_id", "chapter_id", "position"),
        Index(None, "tenant_id", "project_id", "status"),
    )

    project_id: UUID
    chapter_id: UUID
    position: int
    text: str = Field(max_length=20000)
    kind: str = Field(max_length=20)
    paragraph: int
    boundary: str = Field(max_length=20)
    character_id: UUID | None = None
    speaker_locked: bool = False
    status: str = Field(default="pending", max_length=20)
    error: str | None = Field(default=None, max_length=2000)
    revision: int = 1
    audio_key: str | None = Field(default=None, max_length=64)
    duration_ms: int | None = None
    word_boundaries: list[Any] | None = json_column(default_factory=lambda: None)
    updated_at: datetime = timestamp()


class Lexicon(SQLModel, table=True):
    """A project's pronunciation lexicon: one small document, versioned by its content hash."""

    __tablename__ = "lexicons"
    __table_args__ = (tenant_fk("project_id", "projects"),)

    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id", ondelete="CASCADE")
    project_id: UUID = Field(primary_key=True)
    entries: list[dict[str, Any]] = json_column(default_factory=list)
    version: str = Field(max_length=32)
    updated_at: datetime = timestamp()
