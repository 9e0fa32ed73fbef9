"""Sign-in endpoints: `/api/v1/auth/...`."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from khipu.auth import service
from khipu.auth.dependencies import (
    ClientAddress,
    PrincipalDep,
    RuntimeDep,
    SessionDep,
    TenantDep,
    resolve_request_tenant,
)
from khipu.auth.schemas import LoginRequest, Me, PasswordChange, RefreshRequest, TokenPair
from khipu.core.security import RefreshSecret
from khipu.users import service as users

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=TokenPair)
async def login(
    data: LoginRequest,
    runtime: RuntimeDep,
    tenant: TenantDep,
    session: SessionDep,
    address: ClientAddress,
) -> TokenPair:
    """Email and password of a user of the tenant named by the host or `X-Tenant-ID`."""
    return await service.login(runtime, session, tenant, data, client_address=address)


@router.post("/refresh", response_model=TokenPair)
async def refresh(data: RefreshRequest, request: Request, runtime: RuntimeDep) -> TokenPair:
    """Trade a refresh token for a new pair; the old refresh token is spent."""
    secret = RefreshSecret.parse(data.refresh_token)
    tenant = await resolve_request_tenant(request, runtime, secret.tenant_id)
    return await service.refresh(runtime, tenant, secret)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(data: RefreshRequest, request: Request, runtime: RuntimeDep) -> None:
    """End the session family of this refresh token."""
    secret = RefreshSecret.parse(data.refresh_token)
    tenant = await resolve_request_tenant(request, runtime, secret.tenant_id)
    await service.logout(runtime, tenant, secret)


@router.get("/me", response_model=Me)
async def me(principal: PrincipalDep, session: SessionDep) -> Me:
    user = await users.get_user(session, principal.user_id)
    return Me(id=user.id, email=user.email, role=principal.role, tenant_id=principal.tenant_id)


@router.post("/password", response_model=TokenPair)
async def change_password(
    data: PasswordChange,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    session: SessionDep,
    address: ClientAddress,
) -> TokenPair:
    """Change your own password. Every other session ends; a fresh token pair is returned."""
    return await service.change_password(runtime, session, principal, data, client_address=address)
