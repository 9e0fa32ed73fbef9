"""Platform administration of tenants: `/api/v1/admin/tenants` (platform admin token)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, status

from khipu.auth.dependencies import ClientAddress, RuntimeDep, SessionDep, platform_admin, require
from khipu.core.pagination import Page, PageParams, page_params
from khipu.core.permissions import Action, Principal
from khipu.tenants import service
from khipu.tenants.schemas import (
    TenantCreate,
    TenantCreated,
    TenantProfile,
    TenantRead,
    TenantSettings,
    TenantUpdate,
)

router = APIRouter(
    prefix="/api/v1/admin/tenants", tags=["platform admin"], dependencies=[Depends(platform_admin)]
)
own_tenant_router = APIRouter(prefix="/api/v1/tenant", tags=["tenant settings"])
TenantAdmin = Annotated[Principal, Depends(require(Action.MANAGE_TENANT))]


@own_tenant_router.get("", response_model=TenantProfile)
async def get_own_tenant(admin: TenantAdmin, session: SessionDep) -> TenantProfile:
    """The caller's tenant and its settings (tenant admins)."""
    return await service.get_profile(session, admin.tenant_id)


@own_tenant_router.patch("", response_model=TenantProfile)
async def update_own_tenant(
    data: TenantSettings, admin: TenantAdmin, session: SessionDep, runtime: RuntimeDep
) -> TenantProfile:
    """Set the monthly spending cap for paid engines, or the trusted Entra ID directory."""
    return await service.update_settings(session, runtime, admin, data)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TenantCreated)
async def create_tenant(
    data: TenantCreate, runtime: RuntimeDep, address: ClientAddress
) -> TenantCreated:
    """Provision a tenant with its first admin user."""
    tenant, admin_id = await service.create_tenant(runtime, data, client_address=address)
    return TenantCreated.model_validate(
        {**TenantRead.model_validate(tenant).model_dump(), "admin_user_id": admin_id}
    )


@router.get("", response_model=Page[TenantRead])
async def list_tenants(
    runtime: RuntimeDep, address: ClientAddress, params: Annotated[PageParams, Depends(page_params)]
) -> Page[TenantRead]:
    tenants, cursor = await service.list_tenants(runtime, params, client_address=address)
    return Page(items=[TenantRead.model_validate(t) for t in tenants], next_cursor=cursor)


@router.patch("/{tenant_id}", response_model=TenantRead)
async def update_tenant(
    tenant_id: UUID, data: TenantUpdate, runtime: RuntimeDep, address: ClientAddress
) -> TenantRead:
    """Rename, change plan, set a spending cap, or (de)activate a tenant."""
    tenant = await service.update_tenant(runtime, tenant_id, data, client_address=address)
    return TenantRead.model_validate(tenant)
