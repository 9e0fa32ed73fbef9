"""Schema upgrades (Alembic, as the owner role) and the runtime login role's membership."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from khipu.core.db import async_url
from khipu.core.rls import RUNTIME_GROUP

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(owner_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["url"] = owner_url
    return config


def upgrade(owner_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`. Alembic's env runs its own event loop: call from sync code
    or a thread."""
    command.upgrade(alembic_config(owner_url), revision)


async def upgrade_async(owner_url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, owner_url, revision)


async def ensure_runtime_login(owner_url: str, runtime_url: str) -> None:
    """Make the runtime URL's role a member of `khipu_runtime`, creating it if the owner may."""
    role = make_url(runtime_url).username
    if not role or not role.replace("_", "").isalnum():
        raise ValueError(f"unexpected runtime role name {role!r}")
    engine = create_async_engine(async_url(owner_url))
    try:
        async with engine.begin() as conn:
            exists = await conn.scalar(
                text("select 1 from pg_roles where rolname = :r"), {"r": role}
            )
            if not exists:
                await conn.execute(text(f'create role "{role}" login nosuperuser nobypassrls'))
            member = await conn.scalar(
                text("select pg_has_role(:r, :g, 'MEMBER')"), {"r": role, "g": RUNTIME_GROUP}
            )
            if not member:
                await conn.execute(text(f'grant {RUNTIME_GROUP} to "{role}"'))
    finally:
        await engine.dispose()
