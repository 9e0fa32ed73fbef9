"""Character test fixtures: the session's OpenAI fake, reset for each test, and an API whose
deployment has no language model."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from khipu.app import create_app
from khipu.core.runtime import Runtime
from tests.fakes.openai_api import FakeOpenAI
from tests.support import TenantHandle


@pytest.fixture
def fake_openai(openai_service: FakeOpenAI) -> FakeOpenAI:
    openai_service.reset()
    return openai_service


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def tenant_without_llm(tenant: TenantHandle, runtime: Runtime) -> AsyncIterator[TenantHandle]:
    """The tenant, speaking to a second API of the same deployment configured without any
    OpenAI or Azure OpenAI credentials."""
    settings = runtime.settings.model_copy(
        update={
            "openai_api_key": SecretStr(""),
            "azure_openai_endpoint": "",
            "azure_openai_api_key": SecretStr(""),
        }
    )
    bare = dataclasses.replace(runtime, settings=settings, services={})
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, runtime=bare),
            host="127.0.0.1",
            port=(port := free_port()),
            log_config=None,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no event to wait on
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        yield dataclasses.replace(tenant, client=client)
    server.should_exit = True
    await serving
