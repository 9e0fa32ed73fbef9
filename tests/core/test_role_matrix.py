"""The whole role × action matrix of core/permissions.py, walked through the HTTP API.

For project-scoped actions the caller is admin, the owning creator, another creator, an
assigned validator or an unassigned one; expectations come from the matrix itself: 404 when the
project may not even be read, 403 when it may be read but not acted on, success otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from khipu.core.permissions import MATRIX, Action, Principal, ProjectRelation, Role, reaches
from tests.support import TenantHandle, UserHandle


@dataclass(frozen=True)
class Probe:
    """One request that exercises an action; `project` is the id of a project it targets."""

    project_scoped: bool
    call: Callable[[TenantHandle, UserHandle, str], Awaitable[httpx.Response]]


PROBES: dict[Action, Probe] = {
    Action.MANAGE_USERS: Probe(False, lambda t, u, p: t.get("/api/v1/users", as_user=u)),
    Action.MANAGE_TENANT: Probe(False, lambda t, u, p: t.get("/api/v1/tenant", as_user=u)),
    Action.CREATE_PROJECT: Probe(
        False, lambda t, u, p: t.post("/api/v1/projects", json={"title": "New"}, as_user=u)
    ),
    Action.READ_PROJECT: Probe(True, lambda t, u, p: t.get(f"/api/v1/projects/{p}", as_user=u)),
    Action.EDIT_PROJECT: Probe(
        True, lambda t, u, p: t.patch(f"/api/v1/projects/{p}", json={"genre": "Drama"}, as_user=u)
    ),
    Action.PRODUCE: Probe(
        True, lambda t, u, p: t.post(f"/api/v1/projects/{p}/synthesis", json={}, as_user=u)
    ),
    Action.REVIEW: Probe(True, lambda t, u, p: review_first_segment(t, u, p)),
    Action.VIEW_COSTS: Probe(
        True, lambda t, u, p: t.get(f"/api/v1/analytics/costs?project_id={p}", as_user=u)
    ),
}


async def review_first_segment(
    tenant: TenantHandle, user: UserHandle, project_id: str
) -> httpx.Response:
    chapter = (await tenant.get(f"/api/v1/projects/{project_id}/chapters")).json()["items"][0]
    segment = (await tenant.get(f"/api/v1/chapters/{chapter['id']}/segments")).json()["items"][0]
    return await tenant.post(
        f"/api/v1/segments/{segment['id']}/reviews", json={"verdict": "approved"}, as_user=user
    )


def test_every_action_of_the_matrix_has_a_probe():
    assert set(PROBES) == set(MATRIX), f"add probes for {set(MATRIX) - set(PROBES)}"


async def give_it_audio(tenant: TenantHandle, runtime, project_id: str) -> None:
    """A manuscript whose first segment has audio, so reviews have something to judge (the
    audio's content does not matter to permissions)."""
    upload = await tenant.post(
        f"/api/v1/projects/{project_id}/manuscript",
        files={"file": ("s.txt", b"Chapter 1\n\nHello.\n")},
    )
    assert upload.status_code == 201
    async with runtime.db.transaction(uuid.UUID(tenant.id)) as session:
        await session.execute(
            text(
                "update segments set audio_key = repeat('a', 64), status = 'synthesized' "
                "where project_id = :p"
            ),
            {"p": project_id},
        )


@pytest.fixture
async def cast(tenant: TenantHandle, runtime):
    creator = await tenant.add_user("creator")
    other_creator = await tenant.add_user("creator")
    validator = await tenant.add_user("validator")
    other_validator = await tenant.add_user("validator")
    project = await tenant.add_project(owner=creator)
    await tenant.assign(project["id"], validator)
    await give_it_audio(tenant, runtime, project["id"])
    return {
        # name: (user, role, owns the project, assigned to it)
        "admin": (tenant.admin, Role.ADMIN, False, False),
        "owner creator": (creator, Role.CREATOR, True, False),
        "other creator": (other_creator, Role.CREATOR, False, False),
        "assigned validator": (validator, Role.VALIDATOR, False, True),
        "other validator": (other_validator, Role.VALIDATOR, False, False),
    }, project


def expected_status(action: Action, role: Role, owns: bool, assigned: bool, scoped: bool) -> str:
    principal = Principal(user_id=uuid.uuid4(), tenant_id=uuid.uuid4(), role=role)
    if not scoped:
        return "ok" if principal.can(action) else "403"
    relation = ProjectRelation(
        owner_id=principal.user_id if owns else uuid.uuid4(), is_member=assigned
    )
    if not reaches(principal, Action.READ_PROJECT, relation):
        return "404"
    return "ok" if reaches(principal, action, relation) else "403"


@pytest.mark.parametrize("action", list(PROBES), ids=str)
async def test_role_matrix(tenant, cast, action):
    people, project = cast
    probe = PROBES[action]
    outcomes, expected = {}, {}
    for name, (user, role, owns, assigned) in people.items():
        response = await probe.call(tenant, user, project["id"])
        outcomes[name] = "ok" if response.is_success else str(response.status_code)
        expected[name] = expected_status(action, role, owns, assigned, probe.project_scoped)
        if not response.is_success:
            assert response.headers["content-type"].startswith("application/problem+json")
    assert outcomes == expected
