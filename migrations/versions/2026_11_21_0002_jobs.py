"""Jobs: one row per unit of long work; at most one active per (project, kind, scope).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from khipu.core.rls import enable_tenant_isolation, grant_runtime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.String(length=4000), nullable=True),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "parent_id"],
            ["jobs.tenant_id", "jobs.id"],
            name=op.f("fk_jobs_tenant_id_parent_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["projects.tenant_id", "projects.id"],
            name=op.f("fk_jobs_tenant_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_jobs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_jobs")),
    )
    op.create_index(
        op.f("ix_jobs_tenant_id_parent_id"), "jobs", ["tenant_id", "parent_id"], unique=False
    )
    op.create_index(
        op.f("ix_jobs_tenant_id_project_id_created_at"),
        "jobs",
        ["tenant_id", "project_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_jobs_tenant_id_status_heartbeat_at"),
        "jobs",
        ["tenant_id", "status", "heartbeat_at"],
        unique=False,
    )
    op.create_index(
        "uq_jobs_active_scope",
        "jobs",
        ["tenant_id", "project_id", "kind", "scope"],
        unique=True,
        postgresql_where=sa.text("status in ('queued', 'running')"),
    )
    for statement in enable_tenant_isolation("jobs"):
        op.execute(statement)
    op.execute(grant_runtime("jobs"))


def downgrade() -> None:
    op.drop_index(
        "uq_jobs_active_scope",
        table_name="jobs",
        postgresql_where=sa.text("status in ('queued', 'running')"),
    )
    op.drop_index(op.f("ix_jobs_tenant_id_status_heartbeat_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_tenant_id_project_id_created_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_tenant_id_parent_id"), table_name="jobs")
    op.drop_table("jobs")
