"""Manuscript, chapter, segment and lexicon API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

ChapterKind = Literal["chapter", "front_matter", "back_matter"]
SegmentKind = Literal["heading", "narration", "dialogue"]
SegmentStatus = Literal["pending", "synthesized", "failed", "approved", "flagged"]
ChapterStatus = Literal["empty", "pending", "failed", "flagged", "synthesized", "approved"]


class ImportSummary(BaseModel):
    manuscript_id: UUID
    version: int
    format: Literal["docx", "epub", "txt", "md"]
    sha256: str
    chapters: int = Field(description="Included chapters.")
    segments: int = Field(description="Segments of the included chapters.")
    words: int = Field(description="Words of the included chapters.")


class ManuscriptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    version: int
    format: str
    filename: str
    size: int
    sha256: str
    title: str | None
    author: str | None
    language: str | None
    chapter_count: int
    segment_count: int
    word_count: int
    created_at: datetime


class ChapterRead(BaseModel):
    id: UUID
    position: int
    title: str
    kind: ChapterKind
    included: bool
    segment_count: int
    word_count: int
    duration_ms: int | None
    status: ChapterStatus


class ChapterUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=1, max_length=500)
    included: bool | None = None


class SegmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    chapter_id: UUID
    position: int
    text: str
    kind: SegmentKind
    character_id: UUID | None
    status: SegmentStatus
    error: str | None
    revision: int
    duration_ms: int | None


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=20000)
    kind: SegmentKind | None = None
    character_id: UUID | None = Field(
        default=None,
        description="Who speaks it (null: nobody, the narrator); detection keeps it from now on.",
    )


class LexiconEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grapheme: str = Field(min_length=1, max_length=100)
    phoneme: str | None = Field(default=None, min_length=1, max_length=200)
    alias: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_of(self) -> LexiconEntryIn:
        if (self.phoneme is None) == (self.alias is None):
            raise ValueError("give exactly one of phoneme (IPA) or alias")
        return self
