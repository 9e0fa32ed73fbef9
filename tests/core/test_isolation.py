"""Every endpoint that takes an id, called by another tenant's admin with this tenant's ids:
404 every time, and nothing changes. New routes must be added to ROUTE_BODIES to be covered."""

from __future__ import annotations

import uuid

import pytest

from khipu.characters.models import Character
from khipu.jobs import service as jobs
from khipu.packaging.models import Package
from tests.manuscripts.builders import png_bytes
from tests.support import TenantHandle

STORY = "Chapter 1\n\n“Hello,” said Anne.\n\nChapter 2\n\nIt rained.\n".encode()
PNG = png_bytes()

#: (method, path template) -> body to send: None, JSON, ("file", bytes) for uploads, or
#: "validator" (one of the intruder's own validators). Valid bodies, so only isolation refuses.
ROUTE_BODIES: dict[tuple[str, str], object] = {
    ("GET", "/api/v1/users/{user_id}"): None,
    ("PATCH", "/api/v1/users/{user_id}"): {"role": "admin"},
    ("DELETE", "/api/v1/users/{user_id}"): None,
    ("GET", "/api/v1/projects/{project_id}"): None,
    ("PATCH", "/api/v1/projects/{project_id}"): {"title": "Taken over"},
    ("DELETE", "/api/v1/projects/{project_id}"): None,
    ("GET", "/api/v1/projects/{project_id}/members"): None,
    ("POST", "/api/v1/projects/{project_id}/members"): "validator",
    ("DELETE", "/api/v1/projects/{project_id}/members/{user_id}"): None,
    ("GET", "/api/v1/projects/{project_id}/jobs"): None,
    ("PUT", "/api/v1/projects/{project_id}/cover"): ("file", PNG),
    ("GET", "/api/v1/projects/{project_id}/cover"): None,
    ("POST", "/api/v1/projects/{project_id}/manuscript"): ("file", STORY),
    ("GET", "/api/v1/projects/{project_id}/manuscripts"): None,
    ("GET", "/api/v1/projects/{project_id}/manuscripts/{manuscript_id}/file"): None,
    ("GET", "/api/v1/projects/{project_id}/chapters"): None,
    ("PATCH", "/api/v1/chapters/{chapter_id}"): {"title": "Renamed", "included": False},
    ("GET", "/api/v1/chapters/{chapter_id}/segments"): None,
    ("PATCH", "/api/v1/segments/{segment_id}"): {"text": "Rewritten."},
    ("GET", "/api/v1/projects/{project_id}/lexicon"): None,
    ("POST", "/api/v1/projects/{project_id}/synthesis"): {},
    ("GET", "/api/v1/segments/{segment_id}/audio"): None,
    ("GET", "/api/v1/chapters/{chapter_id}/audio"): None,
    ("POST", "/api/v1/segments/{segment_id}/reviews"): {"verdict": "flagged", "comment": "x"},
    ("GET", "/api/v1/segments/{segment_id}/reviews"): None,
    ("GET", "/api/v1/projects/{project_id}/readiness"): None,
    ("POST", "/api/v1/projects/{project_id}/packages"): {"format": "m4b"},
    ("GET", "/api/v1/projects/{project_id}/packages"): None,
    ("GET", "/api/v1/packages/{package_id}"): None,
    ("GET", "/api/v1/packages/{package_id}/download"): None,
    ("GET", "/api/v1/packages/{package_id}/report"): None,
    ("PUT", "/api/v1/projects/{project_id}/lexicon"): [{"grapheme": "Anne", "alias": "Ann"}],
    ("POST", "/api/v1/projects/{project_id}/characters/detect"): {"mode": "local"},
    ("GET", "/api/v1/projects/{project_id}/characters"): None,
    ("PATCH", "/api/v1/characters/{character_id}"): {"name": "Taken over"},
    ("POST", "/api/v1/characters/{character_id}/merge"): {"into_id": str(uuid.uuid4())},
    ("POST", "/api/v1/characters/{character_id}/split"): {"aliases": ["Annie"]},
    ("POST", "/api/v1/projects/{project_id}/casting/recommend"): None,
    ("POST", "/api/v1/characters/{character_id}/audition"): {"text": "Hello."},
    ("GET", "/api/v1/jobs/{job_id}"): None,
    ("POST", "/api/v1/jobs/{job_id}/cancel"): None,
    ("GET", "/api/v1/jobs/{job_id}/events"): None,
}


def routes_with_ids(app) -> set[tuple[str, str]]:
    found = set()
    for path, operations in app.openapi()["paths"].items():
        if "{" in path and not path.startswith("/api/v1/admin/"):
            found |= {(method.upper(), path) for method in operations}
    return found


def test_every_route_with_an_id_is_in_the_isolation_matrix(runtime, settings):
    from khipu.app import create_app

    missing = routes_with_ids(create_app(settings, runtime=runtime)) - set(ROUTE_BODIES)
    assert not missing, f"add these routes to ROUTE_BODIES: {sorted(missing)}"


@pytest.fixture
async def victim(tenant: TenantHandle, runtime):
    validator = await tenant.add_user("validator")
    project = await tenant.add_project()
    await tenant.assign(project["id"], validator)
    url = f"/api/v1/projects/{project['id']}"
    upload = await tenant.post(f"{url}/manuscript", files={"file": ("s.txt", STORY, "text/plain")})
    assert upload.status_code == 201
    cover = await tenant.put(f"{url}/cover", files={"file": ("c.png", PNG, "image/png")})
    lexicon = await tenant.put(f"{url}/lexicon", json=[{"grapheme": "Anne", "phoneme": "æn"}])
    assert cover.is_success and lexicon.is_success
    chapter = (await tenant.get(f"{url}/chapters")).json()["items"][0]
    segment = (await tenant.get(f"/api/v1/chapters/{chapter['id']}/segments")).json()["items"][1]
    async with runtime.db.transaction(uuid.UUID(tenant.id)) as session:
        character = Character(
            tenant_id=uuid.UUID(tenant.id),
            project_id=uuid.UUID(project["id"]),
            name="Anne",
            aliases=["Annie"],
            gender="female",
        )
        session.add(character)
        package = Package(
            tenant_id=uuid.UUID(tenant.id),
            project_id=uuid.UUID(project["id"]),
            format="m4b",
            version=1,
        )
        session.add(package)
        job, _ = await jobs.start_job(
            session,
            runtime,
            tenant_id=uuid.UUID(tenant.id),
            project_id=uuid.UUID(project["id"]),
            kind="probe",
            enqueue_after_commit=False,
        )
    return {
        "project_id": project["id"],
        "user_id": validator.id,
        "job_id": str(job.id),
        "manuscript_id": upload.json()["manuscript_id"],
        "chapter_id": chapter["id"],
        "segment_id": segment["id"],
        "character_id": str(character.id),
        "package_id": str(package.id),
    }


async def snapshot(tenant: TenantHandle, ids: dict) -> dict:
    project = f"/api/v1/projects/{ids['project_id']}"
    reads = {
        "project": project,
        "user": f"/api/v1/users/{ids['user_id']}",
        "members": f"{project}/members",
        "job": f"/api/v1/jobs/{ids['job_id']}",
        "manuscripts": f"{project}/manuscripts",
        "chapters": f"{project}/chapters",
        "segments": f"/api/v1/chapters/{ids['chapter_id']}/segments",
        "lexicon": f"{project}/lexicon",
        "characters": f"{project}/characters",
    }
    state = {name: (await tenant.get(url)).json() for name, url in reads.items()}
    state["cover"] = (await tenant.get(f"{project}/cover")).content
    return state


async def test_another_tenants_admin_gets_404_everywhere_and_changes_nothing(
    tenant, other_tenant, victim
):
    before = await snapshot(tenant, victim)
    intruder_validator = await other_tenant.add_user("validator")
    outcomes = {}
    for (method, template), body in ROUTE_BODIES.items():
        url = template.format(**victim) + ("?format=m4b" if template.endswith("/readiness") else "")
        if body == "validator":
            body = {"user_id": intruder_validator.id}
        if isinstance(body, tuple):
            response = await other_tenant.request(method, url, files={"file": ("f.bin", body[1])})
        else:
            response = await other_tenant.request(method, url, json=body)
        outcomes[(method, template)] = response.status_code
        assert response.headers["content-type"].startswith("application/problem+json"), (
            method,
            url,
        )
    assert set(outcomes.values()) == {404}, {k: v for k, v in outcomes.items() if v != 404}
    assert await snapshot(tenant, victim) == before
