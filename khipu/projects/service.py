"""Rules for projects: who may see and change which project, settings merging, validators."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core import audit
from khipu.core.db import after_commit
from khipu.core.errors import Conflict, InvalidInput, KhipuError, NotFound, PayloadTooLarge
from khipu.core.models import utcnow
from khipu.core.pagination import PageParams
from khipu.core.permissions import (
    Action,
    Principal,
    ProjectRelation,
    Role,
    Scope,
    authorize,
    authorize_project,
)
from khipu.core.storage import BlobKeys, BlobStore
from khipu.packaging.cover import MEDIA_TYPES as COVER_MEDIA_TYPES
from khipu.packaging.cover import UnsupportedCover, inspect_cover
from khipu.projects import repository
from khipu.projects.models import Project, ProjectMember
from khipu.projects.schemas import ProjectCreate, ProjectSettings, ProjectUpdate
from khipu.users import service as users

MAX_COVER_BYTES = 20 * 1024 * 1024


class ProjectNotFound(NotFound):
    title = "Project not found"


class InvalidSettings(InvalidInput):
    title = "Invalid project settings"


class NotAValidator(InvalidInput):
    title = "Not a validator"


class AlreadyAssigned(Conflict):
    title = "Already assigned"


def validated_settings(settings: dict[str, Any]) -> dict[str, Any]:
    try:
        return ProjectSettings.model_validate(settings).model_dump(mode="json")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidSettings(f"Invalid settings: {problems}.") from exc


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def settings_of(project: Project) -> ProjectSettings:
    return ProjectSettings.model_validate(project.settings)


async def relation(
    session: AsyncSession, principal: Principal, project: Project
) -> ProjectRelation:
    member = False
    if principal.scope(Action.READ_PROJECT) is Scope.ASSIGNED:
        member = await repository.is_member(session, project.id, principal.user_id)
    return ProjectRelation(owner_id=project.owner_id, is_member=member)


async def get_project_for(
    session: AsyncSession, principal: Principal, project_id: UUID, action: Action
) -> Project:
    """The project if the principal may perform `action` on it: 404 if it may not even read it
    (or it does not exist, or belongs to another tenant), 403 if it may read but not act."""
    project = await repository.get(session, project_id)
    if project is None:
        raise ProjectNotFound(f"No project has the id {project_id}.")
    authorize_project(principal, action, await relation(session, principal, project))
    return project


async def project_of_child(
    session: AsyncSession,
    principal: Principal,
    project_id: UUID,
    action: Action,
    *,
    missing: KhipuError,
) -> Project:
    """The project of an object (chapter, segment, job, package, character) if the principal may
    perform `action` on it. Where the project may not even be read, `missing` is raised — the
    object's own 404, so neither it nor its project is revealed; else 403 as usual."""
    try:
        return await get_project_for(session, principal, project_id, action)
    except ProjectNotFound as exc:
        raise missing from exc


async def get_project(session: AsyncSession, project_id: UUID) -> Project:
    project = await repository.get(session, project_id)
    if project is None:
        raise ProjectNotFound(f"No project has the id {project_id}.")
    return project


async def create_project(
    session: AsyncSession, principal: Principal, data: ProjectCreate
) -> Project:
    authorize(principal, Action.CREATE_PROJECT)
    fields = data.model_dump(exclude={"settings"}, exclude_none=True)
    project = Project(
        tenant_id=principal.tenant_id,
        owner_id=principal.user_id,
        settings=validated_settings(data.settings),
        **fields,
    )
    session.add(project)
    await session.flush()
    audit.record(
        session,
        tenant_id=principal.tenant_id,
        actor_id=principal.user_id,
        action="project.create",
        target_type="project",
        target_id=project.id,
    )
    return project


async def list_projects(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[list[Project], str | None]:
    return await repository.list_page(
        session,
        scope=principal.scope(Action.READ_PROJECT),
        user_id=principal.user_id,
        params=params,
    )


async def readable_project_ids(
    session: AsyncSession, principal: Principal, action: Action
) -> list[UUID] | None:
    """Projects `action` reaches for this principal; None means every project of the tenant."""
    scope = principal.scope(action)
    if scope is Scope.ALL:
        return None
    if scope is Scope.OWN:
        return await repository.owned_project_ids(session, principal.user_id)
    if scope is Scope.ASSIGNED:
        return await repository.member_project_ids(session, principal.user_id)
    return []


async def update_project(
    session: AsyncSession, principal: Principal, project: Project, data: ProjectUpdate
) -> Project:
    changes = data.model_dump(exclude_unset=True, exclude={"settings"})
    for field, value in changes.items():
        if field in ("title", "language") and value is None:
            raise InvalidInput(f"{field} cannot be removed.")
        setattr(project, field, value)
    if data.settings is not None:
        project.settings = validated_settings(merge(project.settings, data.settings))
    project.updated_at = utcnow()
    audit.record(
        session,
        tenant_id=principal.tenant_id,
        actor_id=principal.user_id,
        action="project.update",
        target_type="project",
        target_id=project.id,
        fields=sorted(data.model_fields_set),
    )
    return project


async def delete_project(
    session: AsyncSession, blobs: BlobStore, principal: Principal, project: Project
) -> None:
    """Delete the rows now and the project's blobs once the deletion has committed."""
    prefix = BlobKeys.project_prefix(project.tenant_id, project.id)
    await session.delete(project)
    audit.record(
        session,
        tenant_id=principal.tenant_id,
        actor_id=principal.user_id,
        action="project.delete",
        target_type="project",
        target_id=project.id,
    )

    async def delete_blobs() -> None:
        await blobs.delete_prefix(prefix)

    after_commit(session, delete_blobs)


async def assign_validator(
    session: AsyncSession, principal: Principal, project: Project, user_id: UUID
) -> ProjectMember:
    user = await users.get_user(session, user_id)
    if user.role != Role.VALIDATOR:
        raise NotAValidator("Only users with the validator role can be assigned to a project.")
    if await repository.get_member(session, project.id, user_id) is not None:
        raise AlreadyAssigned("This validator is already assigned to the project.")
    member = ProjectMember(tenant_id=project.tenant_id, project_id=project.id, user_id=user_id)
    session.add(member)
    audit.record(
        session,
        tenant_id=principal.tenant_id,
        actor_id=principal.user_id,
        action="project.assign",
        target_type="project",
        target_id=project.id,
        user_id=str(user_id),
    )
    return member


async def unassign_validator(
    session: AsyncSession, principal: Principal, project: Project, user_id: UUID
) -> None:
    member = await repository.get_member(session, project.id, user_id)
    if member is None:
        raise NotFound("That user is not assigned to this project.")
    await session.delete(member)
    audit.record(
        session,
        tenant_id=principal.tenant_id,
        actor_id=principal.user_id,
        action="project.unassign",
        target_type="project",
        target_id=project.id,
        user_id=str(user_id),
    )


class CoverTooLarge(PayloadTooLarge):
    title = "Cover too large"


async def set_cover(
    session: AsyncSession, blobs: BlobStore, principal: Principal, project: Project, data: bytes
) -> Project:
    """Store a JPEG or PNG cover, checked by its content (not its name or declared type)."""
    if len(data) > MAX_COVER_BYTES:
        raise CoverTooLarge(f"A cover may be at most {MAX_COVER_BYTES:,} bytes.")
    check = await asyncio.to_thread(
        inspect_cover, data, min_side=1, require_square=False, require_jpeg=False
    )
    if check.format not in ("JPEG", "PNG") or not check.passed:
        raise UnsupportedCover(
            "The cover must be a readable JPEG or PNG image: " + "; ".join(check.problems)
        )
    previous = project.cover_key
    suffix = "jpg" if check.format == "JPEG" else "png"
    key = BlobKeys.project(
        project.tenant_id, project.id, "cover", f"{hashlib.sha256(data).hexdigest()[:32]}.{suffix}"
    )
    await blobs.put_bytes(key, data, content_type=COVER_MEDIA_TYPES[check.format])
    project.cover_key, project.cover_format = key, check.format
    project.cover_width, project.cover_height = check.width, check.height
    project.updated_at = utcnow()
    audit.record(
        session,
        tenant_id=principal.tenant_id,
        actor_id=principal.user_id,
        action="project.cover",
        target_type="project",
        target_id=project.id,
    )
    if previous and previous != key:

        async def delete_previous() -> None:
            await blobs.delete_prefix(previous)

        after_commit(session, delete_previous)
    return project


async def list_members(
    session: AsyncSession, project: Project, params: PageParams
) -> tuple[list[ProjectMember], str | None]:
    return await repository.list_members(session, project.id, params)
