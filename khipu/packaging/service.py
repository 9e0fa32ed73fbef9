"""Readiness checks, starting exports, and reading packages.

Every export is a new version (never overwriting an older one) built by a job from the chapter
masters; one export per project, format and profile runs at a time.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from khipu.audio import service as audio
from khipu.core.errors import Forbidden, NotFound
from khipu.core.pagination import PageParams
from khipu.core.permissions import Action, Principal, Role
from khipu.core.runtime import Runtime
from khipu.core.storage import BlobKeys
from khipu.jobs import service as jobs
from khipu.manuscripts import service as manuscripts
from khipu.packaging import repository
from khipu.packaging.book import ExportNotReady
from khipu.packaging.cover import inspect_cover
from khipu.packaging.models import Package
from khipu.packaging.schemas import ExportRequest, Format, Missing, Profile, Readiness
from khipu.projects import service as projects

if TYPE_CHECKING:  # other modules' tables, for annotations only
    from khipu.jobs.models import Job
    from khipu.projects.models import Project

EXPORT = "package"
REQUIRED_METADATA: dict[str, tuple[str, ...]] = {
    "m4b": ("title", "author"),
    "acx": ("title", "author", "narrator", "copyright"),
    "zip_mp3": ("title", "author"),
    "epub3": ("title", "author", "language"),
}
#: Cover rules by format: ACX demands a square JPEG of at least 2400 px in RGB; the others take
#: any readable JPEG or PNG and do without one.
ACX_COVER = {"min_side": 2400, "require_square": True, "require_jpeg": True, "require_rgb": True}


def report_page_key(tenant_id: UUID, project_id: UUID, package_id: UUID) -> str:
    return BlobKeys.project(tenant_id, project_id, "packages", f"{package_id}-report.html")


class PackageNotFound(NotFound):
    title = "Package not found"


class OnlyAdminsMayForce(Forbidden):
    title = "Only admins may force an export"


async def check_readiness(
    session: AsyncSession,
    runtime: Runtime,
    project: Project,
    fmt: Format,
    profile: Profile | None,
    *,
    force: bool = False,
) -> Readiness:
    """Everything an export of `fmt` would still miss, each with what to do about it."""
    missing = [
        *await _audio_problems(session, project, force=force),
        *_metadata_problems(project, fmt, profile),
        *await _cover_problems(runtime, project, fmt),
    ]
    return Readiness(format=fmt, profile=profile, ready=not missing, missing=missing)


async def _audio_problems(session: AsyncSession, project: Project, *, force: bool) -> list[Missing]:
    chapters = await manuscripts.chapters_of(session, project.id, included_only=True)
    if not chapters:
        return [
            Missing(
                code="no_chapters", message="Upload a manuscript and include at least one chapter."
            )
        ]
    settings = projects.settings_of(project)
    by_chapter = await manuscripts.segments_by_chapter(session, project.id)
    statuses: Counter[str] = Counter()
    unstitched = []
    for chapter in chapters:
        segments = by_chapter.get(chapter.id, [])
        statuses.update(segment.status for segment in segments)
        if not audio.master_is_current(settings, chapter, segments):
            unstitched.append(chapter.title)
    problems = []
    if statuses["pending"]:
        problems.append(
            Missing(
                code="segments_not_synthesized",
                message=f"{statuses['pending']} segment(s) still need synthesis.",
            )
        )
    if statuses["failed"]:
        problems.append(
            Missing(
                code="segments_failed",
                message=f"{statuses['failed']} segment(s) failed synthesis; retry them.",
            )
        )
    if statuses["flagged"] and not force:
        problems.append(
            Missing(
                code="segments_flagged",
                message=f"{statuses['flagged']} segment(s) are flagged by review; fix or "
                "approve them (an admin may force the export).",
            )
        )
    if unstitched and not (statuses["pending"] or statuses["failed"]):
        names = ", ".join(unstitched[:5]) + (" …" if len(unstitched) > 5 else "")
        problems.append(
            Missing(
                code="chapters_not_mastered", message=f"Run synthesis again to master: {names}."
            )
        )
    return problems


def _metadata_problems(project: Project, fmt: Format, profile: Profile | None) -> list[Missing]:
    required = list(REQUIRED_METADATA[fmt])
    if fmt == "zip_mp3" and profile == "spotify":
        required.append("isbn")
    return [
        Missing(
            code=f"missing_{field}", message=f"Set the project's {field} (publishing metadata)."
        )
        for field in required
        if not getattr(project, field)
    ]


async def _cover_problems(runtime: Runtime, project: Project, fmt: Format) -> list[Missing]:
    if fmt != "acx":
        return []
    if project.cover_key is None:
        return [
            Missing(
                code="missing_cover",
                message="Upload a cover: ACX needs a square JPEG of 2400 px or more.",
            )
        ]
    check = inspect_cover(await runtime.blobs.get_bytes(project.cover_key), **ACX_COVER)
    return [Missing(code="cover_rejected", message=problem) for problem in check.problems]


async def start_export(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    project: Project,
    data: ExportRequest,
) -> tuple[Job, Package]:
    """The running export of this format if there is one; else a new package version and its job
    (409 with `missing` when the project is not ready)."""
    if data.force and principal.role is not Role.ADMIN:
        raise OnlyAdminsMayForce("Only a tenant admin may export despite flagged segments.")
    scope = f"{data.format}:{data.profile or 'default'}"
    readiness = await check_readiness(
        session, runtime, project, data.format, data.profile, force=data.force
    )
    if not readiness.ready:
        raise ExportNotReady(
            "The project is not ready for this export.",
            missing=[m.model_dump() for m in readiness.missing],
        )
    package = Package(
        tenant_id=project.tenant_id,
        project_id=project.id,
        format=data.format,
        profile=data.profile,
        version=await repository.next_version(session, project.id, data.format),
        created_by=principal.user_id,
        report={"readiness": readiness.model_dump(mode="json"), "forced": data.force},
    )
    job, created = await jobs.start_job(
        session,
        runtime,
        tenant_id=project.tenant_id,
        project_id=project.id,
        kind=EXPORT,
        scope=scope,
        params={"package_id": str(package.id)},
        created_by=principal.user_id,
    )
    if not created:
        running = await repository.of_job(session, job.id)
        if running is not None:
            return job, running
    package.job_id = job.id
    session.add(package)
    await session.flush()
    return job, package


async def list_packages(
    session: AsyncSession, project: Project, params: PageParams
) -> tuple[list[Package], str | None]:
    return await repository.list_for_project(session, project.id, params)


async def get_package_for(
    session: AsyncSession, principal: Principal, package_id: UUID, action: Action
) -> tuple[Package, Project]:
    missing = PackageNotFound(f"No package has the id {package_id}.")
    package = await repository.get(session, package_id)
    if package is None:
        raise missing
    project = await projects.project_of_child(
        session, principal, package.project_id, action, missing=missing
    )
    return package, project
