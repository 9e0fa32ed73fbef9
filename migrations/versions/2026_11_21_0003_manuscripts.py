"""Manuscripts: versions, chapters, segments, lexicons; project covers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from khipu.core.rls import enable_tenant_isolation, grant_runtime

TABLES = ("manuscripts", "chapters", "segments", "lexicons")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lexicons",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("entries", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["projects.tenant_id", "projects.id"],
            name=op.f("fk_lexicons_tenant_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_lexicons_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "project_id", name=op.f("pk_lexicons")),
    )
    op.create_table(
        "manuscripts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=True),
        sa.Column("author", sa.String(length=300), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("chapter_count", sa.Integer(), nullable=False),
        sa.Column("segment_count", sa.Integer(), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["projects.tenant_id", "projects.id"],
            name=op.f("fk_manuscripts_tenant_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_manuscripts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_manuscripts")),
        sa.UniqueConstraint(
            "tenant_id",
            "project_id",
            "version",
            name=op.f("uq_manuscripts_tenant_id_project_id_version"),
        ),
    )
    op.create_table(
        "chapters",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("manuscript_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("included", sa.Boolean(), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("segment_count", sa.Integer(), nullable=False),
        sa.Column("audio_digest", sa.String(length=64), nullable=True),
        sa.Column("master_key", sa.String(length=300), nullable=True),
        sa.Column("preview_key", sa.String(length=300), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("audio_report", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("stitched_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "manuscript_id"],
            ["manuscripts.tenant_id", "manuscripts.id"],
            name=op.f("fk_chapters_tenant_id_manuscript_id_manuscripts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["projects.tenant_id", "projects.id"],
            name=op.f("fk_chapters_tenant_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_chapters_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_chapters")),
    )
    op.create_index(
        op.f("ix_chapters_tenant_id_project_id_position"),
        "chapters",
        ["tenant_id", "project_id", "position"],
        unique=False,
    )
    op.create_table(
        "segments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("chapter_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=20000), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("paragraph", sa.Integer(), nullable=False),
        sa.Column("boundary", sa.String(length=20), nullable=False),
        sa.Column("character_id", sa.Uuid(), nullable=True),
        sa.Column("speaker_locked", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("audio_key", sa.String(length=64), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("word_boundaries", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "chapter_id"],
            ["chapters.tenant_id", "chapters.id"],
            name=op.f("fk_segments_tenant_id_chapter_id_chapters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["projects.tenant_id", "projects.id"],
            name=op.f("fk_segments_tenant_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_segments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_segments")),
    )
    op.create_index(
        op.f("ix_segments_tenant_id_chapter_id_position"),
        "segments",
        ["tenant_id", "chapter_id", "position"],
        unique=False,
    )
    op.create_index(
        op.f("ix_segments_tenant_id_project_id_status"),
        "segments",
        ["tenant_id", "project_id", "status"],
        unique=False,
    )
    op.add_column("projects", sa.Column("cover_key", sa.String(length=300), nullable=True))
    op.add_column("projects", sa.Column("cover_format", sa.String(length=10), nullable=True))
    op.add_column("projects", sa.Column("cover_width", sa.Integer(), nullable=True))
    op.add_column("projects", sa.Column("cover_height", sa.Integer(), nullable=True))

    for table in TABLES:
        for statement in enable_tenant_isolation(table):
            op.execute(statement)
        op.execute(grant_runtime(table))


def downgrade() -> None:
    op.drop_column("projects", "cover_height")
    op.drop_column("projects", "cover_width")
    op.drop_column("projects", "cover_format")
    op.drop_column("projects", "cover_key")
    op.drop_index(op.f("ix_segments_tenant_id_project_id_status"), table_name="segments")
    op.drop_index(op.f("ix_segments_tenant_id_chapter_id_position"), table_name="segments")
    op.drop_table("segments")
    op.drop_index(op.f("ix_chapters_tenant_id_project_id_position"), table_name="chapters")
    op.drop_table("chapters")
    op.drop_table("manuscripts")
    op.drop_table("lexicons")
