"""Project API shapes, including the typed project settings every later stage reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

Engine = Literal["piper", "azure", "openai"]
SettingValue = str | int | float | bool


class VoiceChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: Engine
    voice_id: str = Field(min_length=1, max_length=100)
    settings: dict[str, SettingValue] = Field(default_factory=dict, max_length=20)


class Pauses(BaseModel):
    """Silence (room tone) between segments, by the kind of break."""

    model_config = ConfigDict(extra="forbid")

    clause_ms: int = Field(default=200, ge=0, le=5000)
    sentence_ms: int = Field(default=450, ge=0, le=5000)
    paragraph_ms: int = Field(default=900, ge=0, le=10000)
    speaker_change_ms: int = Field(
        default=300, ge=0, le=5000, description="Added on a change of speaker."
    )
    scene_ms: int = Field(default=2000, ge=0, le=10000)


class Mastering(BaseModel):
    model_config = ConfigDict(extra="forbid")

    head_room_tone_ms: int = Field(default=750, ge=500, le=1000)
    tail_room_tone_ms: int = Field(default=2500, ge=1000, le=5000)


class ExportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    m4b_bitrate_kbps: int = Field(default=64, ge=64, le=128)
    m4b_max_part_hours: float = Field(default=24.0, gt=0, le=100)
    acx_sample_chapter: int = Field(default=0, ge=0, description="Index among included chapters.")
    acx_sample_start_ms: int = Field(default=0, ge=0)
    acx_sample_length_ms: int = Field(default=180_000, ge=60_000, le=300_000)
    acx_on_failure: Literal["fail", "flag"] = "fail"


class ProjectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    narrator_voice: VoiceChoice | None = None
    pauses: Pauses = Field(default_factory=Pauses)
    mastering: Mastering = Field(default_factory=Mastering)
    export: ExportSettings = Field(default_factory=ExportSettings)
    attribution_mode: Literal["local", "llm"] = "local"


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    author: str | None = Field(default=None, max_length=300)
    narrator: str | None = Field(default=None, max_length=300)
    language: str | None = Field(
        default=None, max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    )
    publisher: str | None = Field(default=None, max_length=300)
    year: int | None = Field(default=None, ge=1000, le=2999)
    genre: str | None = Field(default=None, max_length=100)
    isbn: str | None = Field(default=None, max_length=20)
    copyright: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=5000)

    @field_validator("isbn")
    @classmethod
    def _valid_isbn(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = value.replace("-", "").replace(" ", "").upper()
        if not is_valid_isbn(digits):
            raise ValueError("not a valid ISBN-10 or ISBN-13 (check digit)")
        return digits


class ProjectCreate(_Metadata):
    title: str = Field(min_length=1, max_length=500)
    settings: dict[str, Any] = Field(default_factory=dict)


class ProjectUpdate(_Metadata):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    settings: dict[str, Any] | None = Field(
        default=None, description="Merged into the current settings (nested objects too)."
    )


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    title: str
    author: str | None
    narrator: str | None
    language: str
    publisher: str | None
    year: int | None
    genre: str | None
    isbn: str | None
    copyright: str | None
    description: str | None
    settings: ProjectSettings
    owner_id: UUID
    created_at: datetime
    updated_at: datetime


class CoverRead(BaseModel):
    format: Literal["JPEG", "PNG"]
    width: int
    height: int


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UUID


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    project_id: UUID
    user_id: UUID
    created_at: datetime


def is_valid_isbn(digits: str) -> bool:
    if len(digits) == 10 and digits[:9].isdigit() and (digits[9].isdigit() or digits[9] == "X"):
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
        return total % 11 == 0
    if len(digits) == 13 and digits.isdigit():
        total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(digits))
        return total % 10 == 0
    return False
