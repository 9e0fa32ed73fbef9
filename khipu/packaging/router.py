"""Readiness, exports, packages and their reports."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.responses import StreamingResponse

from khipu.auth.dependencies import PrincipalDep, RuntimeDep, SessionDep
from khipu.core.downloads import blob_response
from khipu.core.pagination import Page, PageParams, page_params
from khipu.core.permissions import Action
from khipu.packaging import service
from khipu.packaging.schemas import (
    ExportAccepted,
    ExportRequest,
    Format,
    PackageRead,
    Profile,
    Readiness,
)
from khipu.projects.dependencies import project_for
from khipu.projects.models import Project

router = APIRouter(tags=["packaging"])
MEDIA_TYPES = {"m4b": "audio/mp4", "zip": "application/zip", "epub": "application/epub+zip"}


@router.get("/api/v1/projects/{project_id}/readiness", response_model=Readiness)
async def readiness(
    project: Annotated[Project, Depends(project_for(Action.READ_PROJECT))],
    session: SessionDep,
    runtime: RuntimeDep,
    export_format: Annotated[Format, Query(alias="format")],
    profile: Profile | None = None,
) -> Readiness:
    """What an export in this format would still miss, each with what to do."""
    return await service.check_readiness(session, runtime, project, export_format, profile)


@router.post(
    "/api/v1/projects/{project_id}/packages",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExportAccepted,
    responses={409: {"description": "Not ready: the problem lists `missing` items."}},
)
async def export(
    data: ExportRequest,
    project: Annotated[Project, Depends(project_for(Action.PRODUCE))],
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> ExportAccepted:
    """Export a new version of the package (M4B, ACX, ZIP of MP3 for Google/Spotify, EPUB 3)."""
    job, package = await service.start_export(session, runtime, principal, project, data)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return ExportAccepted(job_id=job.id, package_id=package.id)


@router.get("/api/v1/projects/{project_id}/packages", response_model=Page[PackageRead])
async def list_packages(
    project: Annotated[Project, Depends(project_for(Action.READ_PROJECT))],
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[PackageRead]:
    packages, cursor = await service.list_packages(session, project, params)
    return Page(items=[PackageRead.model_validate(p) for p in packages], next_cursor=cursor)


@router.get("/api/v1/packages/{package_id}", response_model=PackageRead)
async def get_package(
    package_id: UUID, principal: PrincipalDep, session: SessionDep
) -> PackageRead:
    """Status, size, sha256 and the report (readiness, and for ACX the compliance of every file)."""
    package, _ = await service.get_package_for(session, principal, package_id, Action.READ_PROJECT)
    return PackageRead.model_validate(package)


@router.get("/api/v1/packages/{package_id}/download", response_class=StreamingResponse)
async def download_package(
    package_id: UUID,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> StreamingResponse:
    package, _ = await service.get_package_for(session, principal, package_id, Action.READ_PROJECT)
    extension = (package.filename or "").rsplit(".", 1)[-1]
    return await blob_response(
        runtime.blobs,
        package.blob_key,
        media_type=MEDIA_TYPES.get(extension, "application/octet-stream"),
        range_header=range_header,
        download_name=package.filename,
    )


@router.get("/api/v1/packages/{package_id}/report", response_class=StreamingResponse)
async def report_page(
    package_id: UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> StreamingResponse:
    """The package's report as a page: the readiness check it passed, and for ACX each file's
    measurements against every rule with a loudness plot."""
    package, project = await service.get_package_for(
        session, principal, package_id, Action.READ_PROJECT
    )
    key = service.report_page_key(project.tenant_id, project.id, package.id)
    return await blob_response(runtime.blobs, key, media_type="text/html; charset=utf-8")
