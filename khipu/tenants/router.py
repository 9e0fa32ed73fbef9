"""Platform administration of tenants: `/api/v1/admin/tenants` (platform admin token)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, status

from khipu.auth.dependencies import ClientAddress, RuntimeDep, platform_admin
from khipu.core.pagination import Page, PageParams, page_params
from khipu.tenants import service
from khipu.tenants.schemas import TenantCreate, TenantCreated, TenantRead, TenantUpdate

router = APIRouter(
    prefix="/api/v1/admin/tenants", tags=["platform admin"], dependencies=[Depends(platform_admin)]
)


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
