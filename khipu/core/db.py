"""Database engine and sessions; the one place where a transaction gets its tenant context (RLS).

Every session carries the tenant it works for in `session.info["tenant_id"]` (or none, for the
platform directory). A listener on `after_begin` runs
`set_config('app.tenant_id', <tenant>, true)` at the start of *every* transaction the session
opens — transaction-local, so nothing leaks through the connection pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

TENANT_KEY = "tenant_id"
AFTER_COMMIT_KEY = "after_commit"

AfterCommit = Callable[[], Awaitable[object]]


class TenantScopedSession(Session):
    """Sync session class behind our AsyncSessions; carries the tenant context listener."""


@event.listens_for(TenantScopedSession, "after_begin")
def _set_tenant_context(session: Session, transaction: Any, connection: Any) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    connection.execute(
        text("select set_config('app.tenant_id', :tenant_id, true)"),
        {"tenant_id": str(tenant_id) if tenant_id else ""},
    )


def async_url(url: str) -> str:
    """Accept `postgresql://` URLs too; the app always talks through asyncpg."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """The runtime connection pool and the session factory bound to it."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        # No pre-ping: with asyncpg it costs three round trips per checkout (a third of a simple
        # read's). Connections are recycled instead; one that died under us fails its request.
        self.engine: AsyncEngine = create_async_engine(
            async_url(url), pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
        )
        self._sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=TenantScopedSession
        )

    def session(self, tenant_id: UUID | None) -> AsyncSession:
        """A session whose every transaction runs in `tenant_id`'s context (none: platform only)."""
        return self._sessions(info={TENANT_KEY: tenant_id})

    @asynccontextmanager
    async def transaction(self, tenant_id: UUID | None) -> AsyncIterator[AsyncSession]:
        """Unit of work: commit on success, roll back on error, then run the after-commit hooks
        (enqueueing jobs), so a worker never picks up a job whose rows are not yet visible."""
        async with self.session(tenant_id) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            for hook in session.info.pop(AFTER_COMMIT_KEY, []):
                await hook()

    async def dispose(self) -> None:
        await self.engine.dispose()


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run `hook` once the session's unit of work has committed (never if it rolls back)."""
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(hook)


@dataclass(frozen=True)
class RoleReport:
    user: str
    superuser: bool
    bypass_rls: bool
    owned_tables: int
    member_of_owner: bool

    @property
    def problems(self) -> list[str]:
        problems = []
        if self.superuser:
            problems.append("is a superuser")
        if self.bypass_rls:
            problems.append("has BYPASSRLS")
        if self.owned_tables:
            problems.append(f"owns {self.owned_tables} table(s)")
        if self.member_of_owner:
            problems.append("is a member of a role that owns tables")
        return problems


class UnsafeDatabaseRole(RuntimeError):
    """The runtime role could bypass row-level security; the app refuses to start."""


async def inspect_runtime_role(engine: AsyncEngine) -> RoleReport:
    query = text(
        """
        select current_user as user,
               r.rolsuper as superuser,
               r.rolbypassrls as bypass_rls,
               (select count(*) from pg_tables t
                 where t.schemaname = 'public' and t.tableowner = current_user) as owned_tables,
               exists (select 1 from pg_tables t
                        where t.schemaname = 'public'
                          and pg_has_role(current_user, t.tableowner, 'USAGE')) as member_of_owner
          from pg_roles r where r.rolname = current_user
        """
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).mappings().one()
    return RoleReport(**row)


async def assert_runtime_role_is_safe(engine: AsyncEngine) -> None:
    report = await inspect_runtime_role(engine)
    if report.problems:
        raise UnsafeDatabaseRole(
            f"database role {report.user!r} {', '.join(report.problems)}: row-level security "
            "would not apply. Run the app as a non-owner role without SUPERUSER or BYPASSRLS."
        )
