"""Sign-in endpoints: `/api/v1/auth/...`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from khipu.auth import entra, service
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


@router.get(
    "/entra/start",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={302: {"description": "To Entra ID's authorization endpoint."}},
)
async def entra_start(request: Request, runtime: RuntimeDep, tenant: TenantDep) -> Response:
    """Sign in with Microsoft Entra ID in a browser, for the tenant named by the host or
    `X-Tenant-ID`. Entra sends the browser back to `/entra/callback` within 10 minutes."""
    start = await entra.begin_sign_in(
        runtime,
        tenant,
        redirect_uri=entra.redirect_uri(runtime, str(request.url_for("entra_callback"))),
    )
    response = RedirectResponse(start.authorization_url, status_code=status.HTTP_302_FOUND)
    response.set_cookie(
        entra.FLOW_COOKIE,
        start.browser_binding,
        max_age=entra.FLOW_TTL_SECONDS,
        path=entra.FLOW_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/entra/callback", response_model=TokenPair)
async def entra_callback(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    state: Annotated[str, Query(min_length=1, max_length=256)],
    browser_binding: Annotated[str | None, Cookie(alias=entra.FLOW_COOKIE)] = None,
) -> TokenPair:
    """Where Entra ID sends the browser back, with `code` and `state` (or an `error`): a
    token pair, as from `/login`."""
    pending = await entra.take_pending_sign_in(runtime, state, browser_binding=browser_binding)
    response.delete_cookie(entra.FLOW_COOKIE, path=entra.FLOW_COOKIE_PATH)
    tenant = await resolve_request_tenant(request, runtime, pending.tenant_id)
    return await entra.finish_sign_in(runtime, tenant, pending, dict(request.query_params))
