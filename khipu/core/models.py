"""Table conventions shared by every module.

Tenant-owned tables have the primary key `(tenant_id, id)`: `tenant_id` leads every index, and a
foreign key to another tenant-owned table includes `tenant_id`, so a row can never point at
another tenant's row (foreign-key checks bypass RLS; the composite key closes that gap).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import DateTime, ForeignKeyConstraint, MetaData, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(**kwargs: Any) -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),  # type: ignore[call-overload]
        sa_column_kwargs={"server_default": func.now(), **kwargs},
    )


def optional_timestamp() -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


def json_column(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_type=JSONB)  # type: ignore[call-overload]


class TenantOwned(SQLModel):
    """Columns of every tenant-owned row."""

    tenant_id: UUID = Field(primary_key=True, foreign_key="tenants.id", ondelete="CASCADE")
    id: UUID = Field(default_factory=uuid4, primary_key=True)
    created_at: datetime = timestamp()


def tenant_fk(
    column: str, target: str, *, ondelete: str | None = "CASCADE"
) -> ForeignKeyConstraint:
    """`(tenant_id, column) -> target(tenant_id, id)`."""
    return ForeignKeyConstraint(
        ["tenant_id", column], [f"{target}.tenant_id", f"{target}.id"], ondelete=ondelete
    )
