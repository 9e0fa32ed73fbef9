"""`khipu up` as a user runs it: embedded servers, the README's tour, clean stop, data kept."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support import PASSWORD

SAMPLE = Path(__file__).parents[1] / "fixtures" / "the-lighthouse-keeper.md"

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


def wait_for(url: str, bearer: dict[str, str], job_id: str) -> dict:
    for _ in range(600):
        job = httpx.get(f"{url}/api/v1/jobs/{job_id}", headers=bearer).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish")


def make_the_audiobook(url: str, bearer: dict[str, str], project_id: str) -> None:
    """Steps 5-8 of the README's tour, through the worker process that `khipu up` started."""
    project = f"{url}/api/v1/projects/{project_id}"
    upload = httpx.post(f"{project}/manuscript", headers=bearer, files={"file": SAMPLE.open("rb")})
    assert upload.status_code == 201 and upload.json()["chapters"] == 2, upload.text
    detect = httpx.post(f"{project}/characters/detect", headers=bearer, json={})
    assert wait_for(url, bearer, detect.json()["job_id"])["status"] == "succeeded"
    names = {c["name"] for c in httpx.get(f"{project}/characters", headers=bearer).json()["items"]}
    assert {"Mara", "Tomas"} <= names, names
    assert httpx.post(f"{project}/casting/recommend?apply=true", headers=bearer).status_code == 200
    synthesis = httpx.post(f"{project}/synthesis", headers=bearer, json={})
    job = wait_for(url, bearer, synthesis.json()["job_id"])
    assert job["status"] == "succeeded" and job["result"]["failed"] == 0, job
    assert httpx.get(f"{project}/readiness?format=m4b", headers=bearer).json()["ready"] is True
    export = httpx.post(f"{project}/packages", headers=bearer, json={"format": "m4b"}).json()
    assert wait_for(url, bearer, export["job_id"])["status"] == "succeeded"
    book = httpx.get(f"{url}/api/v1/packages/{export['package_id']}/download", headers=bearer)
    assert book.status_code == 200 and book.content[4:8] == b"ftyp"


@contextlib.contextmanager
def khipu_up(home: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`khipu up`, stopped cleanly afterwards even when the test fails half-way (a killed one
    would leave its worker and embedded servers behind)."""
    process = start(home, port)
    try:
        wait_healthy(process, f"http://127.0.0.1:{port}")
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def test_khipu_up_runs_the_tour_stops_cleanly_and_keeps_data(tmp_path):
    home, port = tmp_path / "home", free_port()
    url = f"http://127.0.0.1:{port}"
    with khipu_up(home, port) as process:
        first_run(url, home, process)
    with khipu_up(home, port) as process:
        second_run(url, port, process)


def first_run(url: str, home: Path, process: subprocess.Popen[bytes]) -> None:
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
    bearer = {"Authorization": f"Bearer {access}"}
    project = httpx.post(
        f"{url}/api/v1/projects",
        headers=bearer,
        json={"title": "The Lighthouse Keeper", "author": "Khipu Samples", "language": "en-US"},
    )
    assert project.status_code == 201
    make_the_audiobook(url, bearer, project.json()["id"])
    output = stop(process, signal.SIGTERM)
    assert "Platform admin:  Authorization: Bearer " + token in output
    assert "Khipu stopped." in output
    postgres_pid = home / "postgres" / "postmaster.pid"
    assert not postgres_pid.exists(), "embedded PostgreSQL left running"


def second_run(url: str, port: int, process: subprocess.Popen[bytes]) -> None:
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
    assert [p["title"] for p in projects["items"]] == ["The Lighthouse Keeper"]
    stop(process, signal.SIGINT)
