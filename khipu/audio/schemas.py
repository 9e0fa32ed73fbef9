"""Synthesis, listening, review and voice API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from khipu.projects.schemas import VoiceChoice


class SynthesisRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chapter_ids: list[UUID] | None = Field(
        default=None,
        max_length=1000,
        description="Only these chapters; default: every included one.",
    )


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    verdict: Literal["approved", "flagged"]
    comment: str | None = Field(default=None, max_length=2000)


class ReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    segment_id: UUID
    reviewer_id: UUID | None
    verdict: Literal["approved", "flagged"]
    comment: str | None
    segment_revision: int
    created_at: datetime


class VoiceRead(BaseModel):
    engine: str
    voice_id: str
    name: str
    locale: str
    gender: Literal["female", "male", "neutral"]
    styles: list[str]
    description: str


class VoicePreview(VoiceChoice):
    text: str = Field(min_length=1, max_length=500)

    def choice(self) -> dict[str, Any]:
        return {"engine": self.engine, "voice_id": self.voice_id, "settings": self.settings}
