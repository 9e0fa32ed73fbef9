"""Platform-admin API shapes for tenants."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from khipu.core.tenancy import RESERVED_SUBDOMAINS, SUBDOMAIN


class Plan(StrEnum):
    SINGLE = "single"
    TEAM = "team"
    ENTERPRISE = "enterprise"


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    subdomain: str = Field(min_length=1, max_length=63, examples=["acme"])
    plan: Plan = Plan.TEAM
    admin_email: EmailStr
    admin_password: str = Field(min_length=1, max_length=256)

    @field_validator("subdomain")
    @classmethod
    def _valid_subdomain(cls, value: str) -> str:
        value = value.lower()
        if not SUBDOMAIN.fullmatch(value):
            raise ValueError("use 1-63 lower-case letters, digits or hyphens, not at either end")
        if value in RESERVED_SUBDOMAINS:
            raise ValueError(f"{value!r} is reserved")
        return value


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    plan: Plan | None = None
    is_active: bool | None = None
    monthly_spending_cap_usd: float | None = Field(default=None, ge=0)


class TenantSettings(BaseModel):
    """What a tenant's own admin may set."""

    model_config = ConfigDict(extra="forbid")

    monthly_spending_cap_usd: float | None = Field(
        default=None, ge=0, description="Refuse paid synthesis once the month's estimate passes it."
    )
    entra_directory_id: str | None = Field(
        default=None,
        max_length=64,
        description="The Entra ID directory (tid) whose users may sign in to this tenant.",
    )


class TenantProfile(BaseModel):
    id: UUID
    name: str
    subdomain: str
    plan: Plan
    settings: TenantSettings


class TenantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    subdomain: str
    plan: Plan
    is_active: bool
    created_at: datetime


class TenantCreated(TenantRead):
    admin_user_id: UUID
