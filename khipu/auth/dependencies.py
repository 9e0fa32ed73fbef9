"""Request dependencies: the runtime, the tenant, the caller, and the tenant-scoped unit of work.

Order within a request: the bearer token is verified (if it is ours) → the tenant is resolved
(host, header, token claim) and checked against the token → a session whose transactions run in
that tenant's context is opened → the caller's user row is loaded through it (so a deactivated
user or a changed role takes effect at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.auth import service as auth
from khipu.core import logging as log_context
from khipu.core.errors import NotAuthenticated
from khipu.core.permissions import Action, Principal, authorize
from khipu.core.runtime import Runtime
from khipu.core.security import AccessClaims, EntraIdentity, InvalidToken, constant_time_equals
from khipu.core.tenancy import TenantMismatch, TenantRef, resolve_tenant
from khipu.tenants import service as tenants
from khipu.users import service as users

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login.")
_platform_bearer = HTTPBearer(
    auto_error=False, scheme_name="PlatformAdmin", description="KHIPU_PLATFORM_ADMIN_TOKEN."
)


# Dependencies are `async def` even when they do not await: FastAPI runs plain `def` ones in a
# worker thread, a hop per dependency per request.
async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def client_address(request: Request) -> str | None:
    runtime: Runtime = request.app.state.runtime
    forwarded = request.headers.get("x-forwarded-for")
    if runtime.settings.trust_forwarded_for and forwarded:
        return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    return credentials.credentials if credentials else None


async def access_claims(
    runtime: RuntimeDep, token: Annotated[str | None, Depends(bearer_token)]
) -> AccessClaims | None:
    """Our own access token's verified claims; None when there is no token or it is Entra's."""
    if token is None:
        return None
    if runtime.entra is not None and not runtime.tokens.looks_like_ours(token):
        return None
    return runtime.tokens.verify(token)


async def resolve_request_tenant(
    request: Request, runtime: Runtime, tenant_claim: UUID | None
) -> TenantRef:
    """The request's tenant; `tenant_claim` is the tenant named by the credential it carries."""
    tenant = await resolve_tenant(
        host=request.headers.get("host"),
        header=request.headers.get("x-tenant-id"),
        claim=tenant_claim,
        base_domain=runtime.settings.base_domain,
        lookup=partial(tenants.lookup, runtime),
    )
    if tenant_claim is not None and tenant_claim != tenant.id:
        raise TenantMismatch("The token was issued for another tenant.")
    log_context.bind(tenant_id=str(tenant.id))
    return tenant


async def current_tenant(
    request: Request,
    runtime: RuntimeDep,
    claims: Annotated[AccessClaims | None, Depends(access_claims)],
) -> TenantRef:
    return await resolve_request_tenant(request, runtime, claims.tenant_id if claims else None)


TenantDep = Annotated[TenantRef, Depends(current_tenant)]


async def tenant_session(runtime: RuntimeDep, tenant: TenantDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed before the response is sent, rolled back on error."""
    async with runtime.db.transaction(tenant.id) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(tenant_session, scope="function")]


async def current_principal(
    runtime: RuntimeDep,
    tenant: TenantDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(bearer_token)],
    claims: Annotated[AccessClaims | None, Depends(access_claims)],
) -> Principal:
    if token is None:
        raise NotAuthenticated("Send an access token: Authorization: Bearer <token>.")
    if claims is not None:
        user = await users.get_active_user(session, claims.user_id)
        if user is None:
            raise InvalidToken("The account behind this token is no longer active.")
    elif runtime.entra is not None:
        identity = await _validate_entra(runtime, token)
        user = await auth.user_for_entra_identity(session, tenant, identity)
    else:
        raise InvalidToken("The access token is not valid.")
    principal = auth.principal_of(user)
    log_context.bind(user_id=str(principal.user_id))
    return principal


async def _validate_entra(runtime: Runtime, token: str) -> EntraIdentity:
    assert runtime.entra is not None
    # JWKS retrieval is blocking I/O (cached after the first call).
    return await asyncio.to_thread(runtime.entra.validate, token)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(action: Action) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits callers whose role may perform `action` at all."""

    async def dependency(principal: PrincipalDep) -> Principal:
        authorize(principal, action)
        return principal

    return dependency


async def platform_admin(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_platform_bearer)],
) -> None:
    expected = runtime.settings.platform_admin_token.get_secret_value()
    given = credentials.credentials if credentials else ""
    if not expected or not constant_time_equals(given, expected):
        raise NotAuthenticated("Platform administration needs the platform admin token.")
