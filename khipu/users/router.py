"""Tenant admins manage their users: `/api/v1/users`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, status

from khipu.auth.dependencies import RuntimeDep, SessionDep, require
from khipu.core.pagination import Page, PageParams, page_params
from khipu.core.permissions import Action, Principal
from khipu.users import service
from khipu.users.schemas import UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/api/v1/users", tags=["users"])
Admin = Annotated[Principal, Depends(require(Action.MANAGE_USERS))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserRead)
async def create_user(
    data: UserCreate, admin: Admin, session: SessionDep, runtime: RuntimeDep
) -> UserRead:
    return UserRead.model_validate(
        await service.create_user(session, runtime.passwords, admin, data)
    )


@router.get("", response_model=Page[UserRead])
async def list_users(
    admin: Admin, session: SessionDep, params: Annotated[PageParams, Depends(page_params)]
) -> Page[UserRead]:
    users, cursor = await service.list_users(session, params)
    return Page(items=[UserRead.model_validate(u) for u in users], next_cursor=cursor)


@router.get("/{user_id}", response_model=UserRead)
async def get_user(user_id: UUID, admin: Admin, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await service.get_user(session, user_id))


@router.patch("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: UUID, data: UserUpdate, admin: Admin, session: SessionDep, runtime: RuntimeDep
) -> UserRead:
    """Change a role, reset a password, or (de)activate; deactivation ends the user's sessions."""
    user = await service.update_user(session, runtime.passwords, admin, user_id, data)
    return UserRead.model_validate(user)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: UUID, admin: Admin, session: SessionDep) -> None:
    await service.delete_user(session, admin, user_id)
