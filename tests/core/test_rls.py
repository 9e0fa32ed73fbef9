"""Row-level security at the database level, as the runtime role: no context sees nothing, a
context sees only its tenant, writes cannot cross tenants, and every tenant table is covered."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from khipu.app import create_app
from khipu.core.db import (
    Database,
    UnsafeDatabaseRole,
    assert_runtime_role_is_safe,
    inspect_runtime_role,
)
from khipu.core.runtime import Runtime
from khipu.jobs.models import Job
from tests.support import TenantHandle

TENANT_TABLES_SQL = """
    select c.table_name from information_schema.columns c
      join information_schema.tables t using (table_schema, table_name)
     where c.table_schema = 'public' and c.column_name = 'tenant_id' and t.table_type = 'BASE TABLE'
     order by 1
"""


async def tenant_tables(runtime: Runtime) -> list[str]:
    async with runtime.db.engine.connect() as conn:
        return list((await conn.execute(text(TENANT_TABLES_SQL))).scalars())


async def populate(tenant: TenantHandle, runtime: Runtime) -> dict:
    """Give the tenant a row in every tenant-owned table we know how to fill through the API."""
    validator = await tenant.add_user("validator")
    project = await tenant.add_project()
    await tenant.assign(project["id"], validator)
    async with runtime.db.transaction(uuid.UUID(tenant.id)) as session:
        session.add(
            Job(
                tenant_id=uuid.UUID(tenant.id),
                project_id=uuid.UUID(project["id"]),
                kind="probe",
                scope="x",
            )
        )
    return {"project": project, "validator": validator}


async def test_runtime_role_sees_no_rows_without_tenant_context(tenant, other_tenant, runtime):
    await populate(tenant, runtime)
    await populate(other_tenant, runtime)
    tables = await tenant_tables(runtime)
    assert {"users", "projects", "project_members", "refresh_tokens", "audit_log", "jobs"} <= set(
        tables
    )
    async with runtime.db.session(None) as session:
        for table in tables:
            assert await session.scalar(text(f"select count(*) from {table}")) == 0, table
    async with runtime.db.session(uuid.UUID(tenant.id)) as session:
        for table in (
            "users",
            "projects",
            "project_members",
            "refresh_tokens",
            "audit_log",
            "jobs",
        ):
            count = await session.scalar(text(f"select count(*) from {table}"))
            others = await session.scalar(
                text(f"select count(*) from {table} where tenant_id <> :t"), {"t": tenant.id}
            )
            assert count > 0 and others == 0, table


async def test_runtime_role_cannot_write_rows_of_another_tenant(tenant, other_tenant, runtime):
    theirs = await populate(other_tenant, runtime)
    mine = uuid.UUID(tenant.id)
    async with runtime.db.session(mine) as session:
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(
                text(
                    "insert into projects (tenant_id, id, owner_id, title, language, settings) "
                    "values (:t, :id, :owner, 'stolen', 'en', '{}')"
                ),
                {"t": other_tenant.id, "id": uuid.uuid4(), "owner": other_tenant.admin.id},
            )
    async with runtime.db.transaction(mine) as session:
        updated = await session.execute(
            text("update projects set title = 'hijacked' where id = :id"),
            {"id": theirs["project"]["id"]},
        )
        deleted = await session.execute(
            text("delete from users where tenant_id = :t"), {"t": other_tenant.id}
        )
        assert updated.rowcount == 0 and deleted.rowcount == 0
    response = await other_tenant.get(f"/api/v1/projects/{theirs['project']['id']}")
    assert response.json()["title"] == theirs["project"]["title"]


async def test_a_row_cannot_be_moved_into_another_tenant(tenant, other_tenant, runtime):
    project = await tenant.add_project()
    async with runtime.db.session(uuid.UUID(tenant.id)) as session:
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(
                text("update projects set tenant_id = :other where id = :id"),
                {"other": other_tenant.id, "id": project["id"]},
            )


async def test_tenant_context_does_not_leak_through_the_pool(tenant, settings):
    database = Database(settings.database_url, pool_size=1)
    try:
        async with database.transaction(uuid.UUID(tenant.id)) as session:
            assert await session.scalar(text("select count(*) from users")) == 1
        async with database.transaction(None) as session:
            assert await session.scalar(text("select current_setting('app.tenant_id', true)")) == ""
            assert await session.scalar(text("select count(*) from users")) == 0
    finally:
        await database.dispose()


async def test_every_tenant_table_has_forced_rls_and_one_policy_without_escape_hatch(runtime):
    tables = await tenant_tables(runtime)
    async with runtime.db.engine.connect() as conn:
        for table in tables:
            flags = (
                await conn.execute(
                    text(
                        "select relrowsecurity, relforcerowsecurity from pg_class "
                        "where oid = cast(:t as regclass)"
                    ),
                    {"t": table},
                )
            ).one()
            assert tuple(flags) == (True, True), f"{table} lacks ENABLE/FORCE ROW LEVEL SECURITY"
            policies = (
                await conn.execute(
                    text(
                        "select qual, with_check, permissive from pg_policies where tablename = :t"
                    ),
                    {"t": table},
                )
            ).all()
            assert len(policies) == 1, f"{table} must have exactly one policy, has {len(policies)}"
            qual, check, permissive = policies[0]
            for expression in (qual, check):
                assert expression and "current_setting('app.tenant_id'" in expression, table
                assert " OR " not in expression.upper(), f"{table} policy has an escape hatch"
            assert permissive == "PERMISSIVE"


async def test_runtime_role_is_not_privileged(runtime):
    report = await inspect_runtime_role(runtime.db.engine)
    assert report.problems == []
    await assert_runtime_role_is_safe(runtime.db.engine)


async def test_start_up_refuses_the_owner_role(server_urls):
    owner = Database(server_urls["migration"])
    try:
        with pytest.raises(UnsafeDatabaseRole, match="owns"):
            await assert_runtime_role_is_safe(owner.engine)
    finally:
        await owner.dispose()


async def test_start_up_refuses_a_superuser(server_urls):
    if "superuser" not in server_urls:
        pytest.skip("no superuser URL for an external test database")
    superuser = Database(server_urls["superuser"])
    try:
        with pytest.raises(UnsafeDatabaseRole, match="superuser"):
            await assert_runtime_role_is_safe(superuser.engine)
    finally:
        await superuser.dispose()


async def test_app_refuses_to_start_as_the_owner(settings, server_urls):
    app = create_app(settings.model_copy(update={"database_url": server_urls["migration"]}))
    with pytest.raises(UnsafeDatabaseRole):
        async with app.router.lifespan_context(app):
            pass
