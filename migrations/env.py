"""Alembic environment: runs migrations over asyncpg as the owner role.

The URL comes from `KHIPU_MIGRATION_DATABASE_URL` (set by `khipu migrate`, or by hand when running
`alembic` directly).
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

import khipu.models  # noqa: F401  (registers every table on the metadata)
from khipu.core.db import async_url
from khipu.core.models import metadata

config = context.config


def database_url() -> str:
    url = config.attributes.get("url") or os.environ.get("KHIPU_MIGRATION_DATABASE_URL")
    if not url:
        raise RuntimeError("set KHIPU_MIGRATION_DATABASE_URL to the owner role's database URL")
    return async_url(url)


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render SQLModel's AutoString as a plain sa.String, so revisions do not import sqlmodel."""
    from sqlmodel.sql.sqltypes import AutoString

    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(database_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
