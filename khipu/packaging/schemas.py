"""Export API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

Format = Literal["m4b", "acx", "zip_mp3", "epub3"]
Profile = Literal["google", "spotify"]


class Missing(BaseModel):
    code: str = Field(description="Stable identifier, e.g. `segments_not_synthesized`.")
    message: str = Field(description="What to fix, in words.")


class Readiness(BaseModel):
    format: Format
    profile: Profile | None = None
    ready: bool
    missing: list[Missing]


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Format
    profile: Profile | None = Field(default=None, description="For zip_mp3: google or spotify.")
    force: bool = Field(
        default=False, description="Admins only: export despite flagged or failed segments."
    )

    @model_validator(mode="after")
    def _profile_fits_format(self) -> ExportRequest:
        if self.format == "zip_mp3" and self.profile is None:
            raise ValueError("zip_mp3 needs a profile: google or spotify")
        if self.format != "zip_mp3" and self.profile is not None:
            raise ValueError("only zip_mp3 takes a profile")
        return self


class ExportAccepted(BaseModel):
    job_id: UUID
    package_id: UUID


class PackageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    project_id: UUID
    format: Format
    profile: Profile | None
    version: int
    status: Literal["queued", "running", "succeeded", "failed"]
    size: int | None
    sha256: str | None
    filename: str | None
    report: dict[str, Any] | None
    error: str | None
    job_id: UUID | None
    created_at: datetime
    finished_at: datetime | None
