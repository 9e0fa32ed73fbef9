"""`khipu up | migrate | worker | tenant create`: run the platform on one machine or in production.

With no `KHIPU_DATABASE_URL` / `KHIPU_REDIS_URL`, `up` starts embedded PostgreSQL and Redis under
`KHIPU_HOME`; blobs go to `KHIPU_HOME/blobs` unless `KHIPU_STORAGE_URL` says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from rich.console import Console

from khipu.config import Settings, get_settings
from khipu.core.embedded import EmbeddedServers, load_or_create_secret, start_embedded
from khipu.core.logging import configure_logging

console = Console(stderr=True, soft_wrap=True)


def _prepare_environment(*, embedded: bool) -> EmbeddedServers | None:
    """Fill in what is not configured: embedded servers, and secrets generated once and kept
    in KHIPU_HOME."""
    settings = Settings()
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["KHIPU_HOME"] = str(home)
    servers = None
    if embedded and (not settings.database_url or not settings.redis_url):
        console.print(f"[dim]Starting embedded servers under {home}…[/dim]")
        servers = start_embedded(
            home, postgres=not settings.database_url, redis=not settings.redis_url
        )
        if servers.database_url:
            os.environ["KHIPU_DATABASE_URL"] = servers.database_url
            os.environ["KHIPU_MIGRATION_DATABASE_URL"] = servers.migration_database_url or ""
        if servers.redis_url:
            os.environ["KHIPU_REDIS_URL"] = servers.redis_url
    for name, secret in (
        ("KHIPU_PLATFORM_ADMIN_TOKEN", "platform-admin-token"),
        ("KHIPU_JWT_SECRET", "jwt-secret"),
    ):
        if not os.environ.get(name):
            os.environ[name] = load_or_create_secret(home, secret)
    get_settings.cache_clear()
    return servers


def migrate(settings: Settings) -> None:
    from khipu.core.migrations import ensure_runtime_login, upgrade

    if not settings.migration_database_url:
        console.print(
            "[yellow]KHIPU_MIGRATION_DATABASE_URL is not set: skipping migrations.[/yellow]"
        )
        return
    upgrade(settings.migration_database_url)
    if settings.database_url:
        asyncio.run(ensure_runtime_login(settings.migration_database_url, settings.database_url))
    console.print("[green]Database schema is up to date.[/green]")


def cmd_migrate(args: argparse.Namespace) -> int:
    servers = _prepare_environment(embedded=True)
    try:
        migrate(get_settings())
    finally:
        if servers:
            servers.stop()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from arq.worker import run_worker

    from khipu.worker import main_settings

    configure_logging()
    run_worker(main_settings())  # type: ignore[arg-type]
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_up(args: argparse.Namespace) -> int:
    import uvicorn

    # uvicorn re-raises the signal once it has shut down; turning it into SystemExit lets the
    # `finally` below stop the worker and the embedded servers instead of dying mid-way.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    servers = _prepare_environment(embedded=True)
    worker: subprocess.Popen[bytes] | None = None
    try:
        settings = get_settings()
        migrate(settings)
        os.environ["KHIPU_LOG_LEVEL"] = args.log_level
        configure_logging(args.log_level)
        if not args.no_worker:
            worker = subprocess.Popen(
                [sys.executable, "-m", "khipu", "worker"], env=os.environ.copy()
            )
        _print_welcome(settings, args.host, args.port)
        # Each API process builds its own app and runtime from the environment set above.
        uvicorn.run(
            "khipu.app:serve",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=None,
            proxy_headers=False,
        )  # returns on Ctrl-C / SIGTERM
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        if servers:
            servers.stop()
        console.print("[dim]Khipu stopped.[/dim]")
    return 0


def _print_welcome(settings: Settings, host: str, port: int) -> None:
    token = settings.platform_admin_token.get_secret_value()
    local = host in ("127.0.0.1", "0.0.0.0")  # noqa: S104 - comparing, not binding
    base = f"http://{settings.base_domain}:{port}" if local else f"http://{host}:{port}"
    example = "khipu tenant create --name Acme --subdomain acme --admin-email you@example.com"
    console.print(f"\n[bold green]Khipu Cloud is running[/bold green] on http://{host}:{port}")
    console.print(f"  API docs:        {base}/api/docs")
    console.print(f"  Platform admin:  Authorization: Bearer {token}")
    console.print(f"  Create a tenant: {example}")
    console.print(f"  Its API:         http://acme.{settings.base_domain}:{port}/api/v1/...")
    console.print("                   (or any host, with the header X-Tenant-ID: acme)\n")


def cmd_tenant_create(args: argparse.Namespace) -> int:
    from khipu.core.runtime import Runtime
    from khipu.tenants import service
    from khipu.tenants.schemas import TenantCreate

    password = (
        args.admin_password
        or os.environ.get("KHIPU_ADMIN_PASSWORD")
        or getpass.getpass("Password for the tenant's admin: ")
    )
    servers = _prepare_environment(embedded=True)

    async def create() -> None:
        runtime = await Runtime.start(get_settings())
        try:
            data = TenantCreate(
                name=args.name,
                subdomain=args.subdomain,
                plan=args.plan,
                admin_email=args.admin_email,
                admin_password=password,
            )
            tenant, admin_id = await service.create_tenant(runtime, data, client_address="cli")
            console.print(
                f"Tenant [bold]{tenant.subdomain}[/bold] created: id {tenant.id}, admin {admin_id}"
            )
        finally:
            await runtime.close()

    try:
        migrate(get_settings())
        asyncio.run(create())
    finally:
        if servers:
            servers.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="khipu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the API and a worker (embedded servers by default)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--log-level", default="INFO")
    up.add_argument("--no-worker", action="store_true", help="do not start a worker process")
    up.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="API processes (default: one per core, at most 2)",
    )
    up.set_defaults(run=cmd_up)

    commands.add_parser("migrate", help="upgrade the database schema").set_defaults(run=cmd_migrate)
    commands.add_parser("worker", help="run an arq worker").set_defaults(run=cmd_worker)

    tenant = commands.add_parser("tenant", help="tenant administration").add_subparsers(
        dest="tenant_command", required=True
    )
    create = tenant.add_parser("create", help="provision a tenant and its first admin")
    create.add_argument("--name", required=True)
    create.add_argument("--subdomain", required=True)
    create.add_argument("--plan", default="team", choices=["single", "team", "enterprise"])
    create.add_argument("--admin-email", required=True)
    create.add_argument("--admin-password", help="prompted for when omitted")
    create.set_defaults(run=cmd_tenant_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
