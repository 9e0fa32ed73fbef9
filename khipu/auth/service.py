"""Sign-in rules: login with throttled failures, refresh-token rotation with reuse detection,
logout, password change, and Entra ID identities mapped to users of the tenant."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from khipu.auth import repository
from khipu.auth.models import RefreshToken
from khipu.auth.schemas import LoginRequest, PasswordChange, TokenPair
from khipu.core import audit, ratelimit
from khipu.core.errors import Forbidden, InvalidInput, NotAuthenticated, TooManyRequests
from khipu.core.models import utcnow
from khipu.core.permissions import Principal, Role
from khipu.core.runtime import Runtime
from khipu.core.security import EntraIdentity, InvalidToken, RefreshSecret, check_password_policy
from khipu.core.tenancy import TenantMismatch, TenantRef
from khipu.tenants import service as tenants
from khipu.users import service as users
from khipu.users.models import User


class InvalidCredentials(NotAuthenticated):
    title = "Invalid credentials"


class LoginThrottled(TooManyRequests):
    title = "Too many failed sign-ins"


class WrongCurrentPassword(InvalidInput):
    title = "Wrong current password"


class NoAccountForIdentity(Forbidden):
    title = "No account for this identity"


def _failure_windows(
    runtime: Runtime, tenant_id: UUID, email: str, address: str | None
) -> list[ratelimit.Window]:
    settings = runtime.settings
    seconds = settings.login_failure_window_seconds
    windows = [
        ratelimit.Window(
            f"khipu:login-failures:email:{tenant_id}:{email.lower()}",
            settings.login_failures_per_email,
            seconds,
        )
    ]
    if address:
        windows.append(
            ratelimit.Window(
                f"khipu:login-failures:address:{address}",
                settings.login_failures_per_address,
                seconds,
            )
        )
    return windows


async def _refuse_if_throttled(runtime: Runtime, windows: list[ratelimit.Window]) -> None:
    wait = await ratelimit.retry_after(runtime.redis, windows)
    if wait is not None:
        raise LoginThrottled(
            f"Too many failed attempts; try again in {wait} seconds.", retry_after=wait
        )


async def login(
    runtime: Runtime,
    session: AsyncSession,
    tenant: TenantRef,
    data: LoginRequest,
    *,
    client_address: str | None,
) -> TokenPair:
    windows = _failure_windows(runtime, tenant.id, data.email, client_address)
    await _refuse_if_throttled(runtime, windows)
    user = await users.find_by_email(session, data.email)
    password_ok = await runtime.passwords.verify(
        user.password_hash if user else None, data.password
    )
    if user is None or not password_ok or not user.is_active:
        await ratelimit.record_failure(runtime.redis, windows)
        raise InvalidCredentials("The email or the password is wrong.")
    return await issue_pair(runtime, session, user, family_id=uuid4())


async def issue_pair(
    runtime: Runtime, session: AsyncSession, user: User, *, family_id: UUID
) -> TokenPair:
    secret = RefreshSecret.new(user.tenant_id)
    session.add(
        RefreshToken(
            tenant_id=user.tenant_id,
            id=secret.token_id,
            user_id=user.id,
            family_id=family_id,
            token_hash=secret.digest,
            expires_at=utcnow() + timedelta(days=runtime.settings.refresh_token_days),
        )
    )
    access = runtime.tokens.issue(user_id=user.id, tenant_id=user.tenant_id, role=user.role)
    return TokenPair(
        access_token=access, refresh_token=str(secret), expires_in=runtime.tokens.ttl_seconds
    )


async def refresh(runtime: Runtime, tenant: TenantRef, secret: RefreshSecret) -> TokenPair:
    """Rotate: the presented token is spent and a new one of the same family issued. Presenting
    a spent token again means it leaked: the whole family is revoked (committed) and refused."""
    if secret.tenant_id != tenant.id:
        raise TenantMismatch("The refresh token belongs to another tenant.")
    reused = False
    async with runtime.db.transaction(tenant.id) as session:
        row = await repository.get_for_update(session, secret.token_id)
        now = utcnow()
        if row is None or not secret.matches(row.token_hash):
            raise InvalidToken("The refresh token is not valid.")
        if row.revoked_at is not None:
            raise InvalidToken("The refresh token has been revoked.")
        if row.expires_at <= now:
            raise InvalidToken("The refresh token has expired.")
        if row.rotated_at is not None:
            await repository.revoke_family(session, row.family_id, now)
            audit.record(
                session,
                tenant_id=tenant.id,
                actor_id=row.user_id,
                action="auth.refresh_reuse",
                target_type="user",
                target_id=row.user_id,
            )
            reused = True
        else:
            user = await users.get_active_user(session, row.user_id)
            if user is None:
                raise InvalidToken("The account is no longer active.")
            row.rotated_at = now
            pair = await issue_pair(runtime, session, user, family_id=row.family_id)
    if reused:
        raise InvalidToken("The refresh token was already used; every session of it was ended.")
    return pair


async def logout(runtime: Runtime, tenant: TenantRef, secret: RefreshSecret) -> None:
    if secret.tenant_id != tenant.id:
        raise TenantMismatch("The refresh token belongs to another tenant.")
    async with runtime.db.transaction(tenant.id) as session:
        row = await repository.get_for_update(session, secret.token_id)
        if row is None or not secret.matches(row.token_hash):
            raise InvalidToken("The refresh token is not valid.")
        await repository.revoke_family(session, row.family_id, utcnow())


async def revoke_user_sessions(session: AsyncSession, user_id: UUID) -> None:
    await repository.revoke_user(session, user_id, utcnow())


async def change_password(
    runtime: Runtime,
    session: AsyncSession,
    principal: Principal,
    data: PasswordChange,
    *,
    client_address: str | None,
) -> TokenPair:
    """Verify the current password, store the new one, end every other session, and hand back
    a fresh pair so the caller stays signed in."""
    user = await users.get_user(session, principal.user_id)
    windows = _failure_windows(runtime, principal.tenant_id, user.email, client_address)
    await _refuse_if_throttled(runtime, windows)
    if not await runtime.passwords.verify(user.password_hash, data.current_password):
        await ratelimit.record_failure(runtime.redis, windows)
        raise WrongCurrentPassword("The current password is not correct.")
    check_password_policy(data.new_password)
    await users.set_password(session, user, await runtime.passwords.hash(data.new_password))
    audit.record(
        session,
        tenant_id=principal.tenant_id,
        actor_id=user.id,
        action="auth.password_change",
        target_type="user",
        target_id=user.id,
    )
    return await issue_pair(runtime, session, user, family_id=uuid4())


async def user_for_entra_identity(
    session: AsyncSession, tenant: TenantRef, identity: EntraIdentity
) -> User:
    """The tenant's user for an Entra ID identity. A tenant trusts one directory
    (`settings.entra_directory_id`); its first sign-in links the account with the same email.
    A deactivated account is refused with 401, as its own access tokens are."""
    # Read now, not from the tenant directory's few-second cache: revoking trust is immediate.
    trusted = str((await tenants.get_profile(session, tenant.id)).settings.entra_directory_id or "")
    trusted = trusted.lower()
    if not trusted or trusted != identity.directory_id.lower():
        raise NoAccountForIdentity("This tenant does not accept sign-ins from that directory.")
    user = await users.find_by_entra_object_id(session, identity.object_id)
    if user is None and identity.email:
        user = await users.find_by_email(session, identity.email)
        if user is not None and user.entra_object_id is None:
            user.entra_object_id = identity.object_id
        else:
            user = None
    if user is None:
        raise NoAccountForIdentity("No account of this tenant matches that identity.")
    if not user.is_active:
        raise InvalidToken("The account behind this identity is no longer active.")
    return user


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, tenant_id=user.tenant_id, role=Role(user.role))
