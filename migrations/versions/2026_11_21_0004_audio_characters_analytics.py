"""Characters, segment reviews, usage events; segments reference their speaker.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from khipu.core.rls import enable_tenant_isolation, grant_runtime

TABLES = ("characters", "usage_events", "reviews")

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "characters",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("aliases", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("gender", sa.String(length=10), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("voice", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("user_edited", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["projects.tenant_id", "projects.id"],
            name=op.f("fk_characters_tenant_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_characters_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_characters")),
    )
    op.create_index(
        op.f("ix_characters_tenant_id_project_id_name"),
        "characters",
        ["tenant_id", "project_id", "name"],
        unique=False,
    )
    op.create_table(
        "usage_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("engine", sa.String(length=30), nullable=False),
        sa.Column("characters", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["projects.tenant_id", "projects.id"],
            name=op.f("fk_usage_events_tenant_id_project_id_projects"),
            ondelete="SET NULL (project_id)",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_usage_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_usage_events")),
    )
    op.create_index(
        op.f("ix_usage_events_tenant_id_created_at"),
        "usage_events",
        ["tenant_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_usage_events_tenant_id_project_id_created_at"),
        "usage_events",
        ["tenant_id", "project_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "reviews",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("segment_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=True),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        sa.Column("segment_revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["projects.tenant_id", "projects.id"],
            name=op.f("fk_reviews_tenant_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "segment_id"],
            ["segments.tenant_id", "segments.id"],
            name=op.f("fk_reviews_tenant_id_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reviews_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_reviews")),
    )
    op.create_index(
        op.f("ix_reviews_tenant_id_segment_id_created_at"),
        "reviews",
        ["tenant_id", "segment_id", "created_at"],
        unique=False,
    )
    op.create_foreign_key(
        op.f("fk_segments_tenant_id_character_id_characters"),
        "segments",
        "characters",
        ["tenant_id", "character_id"],
        ["tenant_id", "id"],
        ondelete="SET NULL (character_id)",
    )

    for table in TABLES:
        for statement in enable_tenant_isolation(table):
            op.execute(statement)
        op.execute(grant_runtime(table))


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_segments_tenant_id_character_id_characters"), "segments", type_="foreignkey"
    )
    op.drop_index(op.f("ix_reviews_tenant_id_segment_id_created_at"), table_name="reviews")
    op.drop_table("reviews")
    op.drop_index(
        op.f("ix_usage_events_tenant_id_project_id_created_at"), table_name="usage_events"
    )
    op.drop_index(op.f("ix_usage_events_tenant_id_created_at"), table_name="usage_events")
    op.drop_table("usage_events")
    op.drop_index(op.f("ix_characters_tenant_id_project_id_name"), table_name="characters")
    op.drop_table("characters")
