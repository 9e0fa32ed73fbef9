"""The role × action matrix of DESIGN.md, as one table, and the rule that applies it to a project.

Routes declare what they need (`Depends(require(Action.MANAGE_USERS))` or a project loader built
with an `Action`); nothing re-derives permissions with ad-hoc role checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from khipu.core.errors import Forbidden, NotFound


class Role(StrEnum):
    ADMIN = "admin"
    CREATOR = "creator"
    VALIDATOR = "validator"


class Action(StrEnum):
    MANAGE_USERS = "manage_users"
    MANAGE_TENANT = "manage_tenant"
    CREATE_PROJECT = "create_project"
    READ_PROJECT = "read_project"
    EDIT_PROJECT = "edit_project"  # project, manuscript, casting, lexicon; delete
    PRODUCE = "produce"  # generate audio, export packages
    REVIEW = "review"  # approve/flag segments, comment
    VIEW_COSTS = "view_costs"


class Scope(StrEnum):
    """Which projects an allowed action reaches."""

    NONE = "none"
    OWN = "own"  # projects the user owns
    ASSIGNED = "assigned"  # projects the user is a member (validator) of
    ALL = "all"


A, C, V = Role.ADMIN, Role.CREATOR, Role.VALIDATOR

MATRIX: dict[Action, dict[Role, Scope]] = {
    Action.MANAGE_USERS: {A: Scope.ALL, C: Scope.NONE, V: Scope.NONE},
    Action.MANAGE_TENANT: {A: Scope.ALL, C: Scope.NONE, V: Scope.NONE},
    Action.CREATE_PROJECT: {A: Scope.ALL, C: Scope.ALL, V: Scope.NONE},
    Action.READ_PROJECT: {A: Scope.ALL, C: Scope.OWN, V: Scope.ASSIGNED},
    Action.EDIT_PROJECT: {A: Scope.ALL, C: Scope.OWN, V: Scope.NONE},
    Action.PRODUCE: {A: Scope.ALL, C: Scope.OWN, V: Scope.NONE},
    Action.REVIEW: {A: Scope.ALL, C: Scope.OWN, V: Scope.ASSIGNED},
    Action.VIEW_COSTS: {A: Scope.ALL, C: Scope.OWN, V: Scope.ASSIGNED},
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, within which tenant."""

    user_id: UUID
    tenant_id: UUID
    role: Role

    def scope(self, action: Action) -> Scope:
        return MATRIX[action][self.role]

    def can(self, action: Action) -> bool:
        return self.scope(action) is not Scope.NONE


@dataclass(frozen=True, slots=True)
class ProjectRelation:
    """How the principal relates to one project."""

    owner_id: UUID
    is_member: bool


def reaches(principal: Principal, action: Action, relation: ProjectRelation) -> bool:
    scope = principal.scope(action)
    if scope is Scope.ALL:
        return True
    if scope is Scope.OWN:
        return relation.owner_id == principal.user_id
    if scope is Scope.ASSIGNED:
        return relation.is_member
    return False


def authorize_project(principal: Principal, action: Action, relation: ProjectRelation) -> None:
    """404 if the principal may not even read the project (existence must not leak); 403 if it may
    read it but not perform `action`."""
    if not reaches(principal, Action.READ_PROJECT, relation):
        raise NotFound("Project not found.")
    if not reaches(principal, action, relation):
        raise Forbidden(f"Your role ({principal.role}) may not {action.replace('_', ' ')} here.")


def authorize(principal: Principal, action: Action) -> None:
    if not principal.can(action):
        raise Forbidden(f"Your role ({principal.role}) may not {action.replace('_', ' ')}.")
