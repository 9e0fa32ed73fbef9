"""`khipu up` as a user runs it: embedded servers, the README's tour, clean stop, data kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support import PASSWORD

pytestmark = pytest.mark.slow


def start(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHIPU_")}
    env["KHIPU_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "khipu", "up", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_healthy(process: subprocess.Popen[bytes], url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode() if process.stdout else "exited")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise AssertionError("khipu up did not become healthy")


def stop(process: subprocess.Popen[bytes], sig: int) -> str:
    process.send_signal(sig)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output.decode()
    return output.decode()


def test_khipu_up_runs_the_tour_stops_cleanly_and_keeps_data(tmp_path):
    home, port = tmp_path / "home", free_port()
    url = f"http://127.0.0.1:{port}"
    process = start(home, port)
    wait_healthy(process, url)
    token = (home / "secrets" / "platform-admin-token").read_text().strip()
    tenant = httpx.post(
        f"{url}/api/v1/admin/tenants",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "name": "Acme Press",
            "subdomain": "acme",
            "plan": "team",
            "admin_email": "ada@acme.example",
            "admin_password": PASSWORD,
        },
    )
    assert tenant.status_code == 201, tenant.text
    login = httpx.post(
        f"{url}/api/v1/auth/login",
        headers={"X-Tenant-ID": "acme"},
        json={"email": "ada@acme.example", "password": PASSWORD},
    )
    access = login.json()["access_token"]
    project = httpx.post(
        f"{url}/api/v1/projects",
        headers={"Authorization": f"Bearer {access}"},
        json={"title": "Pride and Prejudice"},
    )
    assert project.status_code == 201
    output = stop(process, signal.SIGTERM)
    assert "Platform admin:  Authorization: Bearer " + token in output
    assert "Khipu stopped." in output
    postgres_pid = home / "postgres" / "postmaster.pid"
    assert not postgres_pid.exists(), "embedded PostgreSQL left running"

    process = start(home, port)
    wait_healthy(process, url)
    login = httpx.post(
        f"{url}/api/v1/auth/login",
        headers={"Host": f"acme.localhost:{port}"},
        json={"email": "ada@acme.example", "password": PASSWORD},
    )
    assert login.status_code == 200, login.text
    projects = httpx.get(
        f"{url}/api/v1/projects",
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    ).json()
    assert [p["title"] for p in projects["items"]] == ["Pride and Prejudice"]
    stop(process, signal.SIGINT)
