"""Row-level security DDL for the migrations: one policy per tenant-owned table, no escape hatch.

The app's runtime login roles are members of `khipu_runtime`, which holds DML privileges only.
"""

from __future__ import annotations

RUNTIME_GROUP = "khipu_runtime"
TENANT_SETTING = "(select nullif(current_setting('app.tenant_id', true), '')::uuid)"


def enable_tenant_isolation(table: str) -> list[str]:
    """ENABLE + FORCE RLS and the single `tenant_isolation` policy for `table`."""
    return [
        f"alter table {table} enable row level security",
        f"alter table {table} force row level security",
        f"create policy tenant_isolation on {table} "
        f"using (tenant_id = {TENANT_SETTING}) with check (tenant_id = {TENANT_SETTING})",
    ]


def create_runtime_group() -> list[str]:
    return [
        f"""
        do $$ begin
          if not exists (select 1 from pg_roles where rolname = '{RUNTIME_GROUP}') then
            create role {RUNTIME_GROUP} nologin nosuperuser nobypassrls;
          end if;
        end $$
        """,
        "do $$ begin execute format('grant connect on database %I to "
        f"{RUNTIME_GROUP}', current_database()); end $$",
        f"grant usage on schema public to {RUNTIME_GROUP}",
        f"alter default privileges in schema public "
        f"grant select, insert, update, delete on tables to {RUNTIME_GROUP}",
        f"alter default privileges in schema public "
        f"grant usage, select on sequences to {RUNTIME_GROUP}",
    ]


def grant_runtime(table: str, privileges: str = "select, insert, update, delete") -> str:
    return f"grant {privileges} on {table} to {RUNTIME_GROUP}"
