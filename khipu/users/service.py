"""Rules for a tenant's users: unique emails, strong passwords, deactivation revokes sessions."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.auth import service as auth_service
from khipu.core import audit
from khipu.core.errors import Conflict, InvalidInput, NotFound
from khipu.core.models import utcnow
from khipu.core.pagination import PageParams
from khipu.core.permissions import Principal, Role
from khipu.core.security import PasswordHashing, check_password_policy
from khipu.users import repository
from khipu.users.models import User
from khipu.users.schemas import UserCreate, UserUpdate


class UserNotFound(NotFound):
    title = "User not found"


class EmailTaken(Conflict):
    title = "Email taken"


class UserOwnsProjects(Conflict):
    title = "User owns projects"


class CannotChangeOwnAccount(InvalidInput):
    title = "Cannot change own account this way"


async def add_user(
    session: AsyncSession,
    *,
    tenant_id: UUID,
    email: str,
    password_hash: str | None,
    role: Role,
    actor_id: UUID | None,
) -> User:
    if await repository.email_taken(session, email):
        raise EmailTaken(f"A user with the email {email!r} already exists in this tenant.")
    user = User(tenant_id=tenant_id, email=email.lower(), password_hash=password_hash, role=role)
    session.add(user)
    await session.flush()
    audit.record(
        session,
        tenant_id=tenant_id,
        actor_id=actor_id,
        action="user.create",
        target_type="user",
        target_id=user.id,
        role=role.value,
    )
    return user


async def create_user(
    session: AsyncSession, passwords: PasswordHashing, actor: Principal, data: UserCreate
) -> User:
    check_password_policy(data.password)
    return await add_user(
        session,
        tenant_id=actor.tenant_id,
        email=str(data.email),
        password_hash=await passwords.hash(data.password),
        role=data.role,
        actor_id=actor.user_id,
    )


async def get_user(session: AsyncSession, user_id: UUID) -> User:
    user = await repository.get(session, user_id)
    if user is None:
        raise UserNotFound(f"No user has the id {user_id}.")
    return user


async def get_active_user(session: AsyncSession, user_id: UUID) -> User | None:
    user = await repository.get(session, user_id)
    return user if user is not None and user.is_active else None


async def find_by_email(session: AsyncSession, email: str) -> User | None:
    return await repository.get_by_email(session, email)


async def find_by_entra_object_id(session: AsyncSession, object_id: str) -> User | None:
    return await repository.get_by_entra_object_id(session, object_id)


async def list_users(session: AsyncSession, params: PageParams) -> tuple[list[User], str | None]:
    return await repository.list_page(session, params)


async def update_user(
    session: AsyncSession,
    passwords: PasswordHashing,
    actor: Principal,
    user_id: UUID,
    data: UserUpdate,
) -> User:
    user = await get_user(session, user_id)
    if user.id == actor.user_id and (
        data.role not in (None, Role.ADMIN) or data.is_active is False
    ):
        raise CannotChangeOwnAccount("An admin cannot demote or deactivate their own account.")
    if data.role is not None:
        user.role = data.role.value
    if data.password is not None:
        check_password_policy(data.password)
        await set_password(session, user, await passwords.hash(data.password))
    if data.is_active is not None:
        user.is_active = data.is_active
        if not data.is_active:
            await auth_service.revoke_user_sessions(session, user.id)
    user.updated_at = utcnow()
    audit.record(
        session,
        tenant_id=actor.tenant_id,
        actor_id=actor.user_id,
        action="user.update",
        target_type="user",
        target_id=user.id,
        **data.model_dump(mode="json", exclude_unset=True, exclude={"password"}),
        password_changed=data.password is not None,
    )
    return user


async def set_password(session: AsyncSession, user: User, password_hash: str) -> None:
    """Store a new hash and end every session the user had."""
    user.password_hash = password_hash
    user.password_changed_at = utcnow()
    await auth_service.revoke_user_sessions(session, user.id)


async def delete_user(session: AsyncSession, actor: Principal, user_id: UUID) -> None:
    user = await get_user(session, user_id)
    if user.id == actor.user_id:
        raise CannotChangeOwnAccount("An admin cannot delete their own account.")
    try:
        await repository.delete(session, user)
        await session.flush()
    except IntegrityError as exc:
        raise UserOwnsProjects(
            "This user owns projects; deactivate the account instead, or delete its projects."
        ) from exc
    audit.record(
        session,
        tenant_id=actor.tenant_id,
        actor_id=actor.user_id,
        action="user.delete",
        target_type="user",
        target_id=user_id,
    )
