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
}


def test_every_action_of_the_matrix_has_a_probe():
    assert set(PROBES) == set(MATRIX), f"add probes for {set(MATRIX) - set(PROBES)}"


@pytest.fixture
async def cast(tenant: TenantHandle):
    creator = await tenant.add_user("creator")
    other_creator = await tenant.add_user("creator")
    validator = await tenant.add_user("validator")
    other_validator = await tenant.add_user("validator")
    project = await tenant.add_project(owner=creator)
    await tenant.assign(project["id"], validator)
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
