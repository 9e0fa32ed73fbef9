"""Character, detection, casting and audition API shapes."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from khipu.projects.schemas import VoiceChoice

Gender = Literal["female", "male", "unknown"]
AttributionMode = Literal["local", "llm"]


def clean_names(names: list[str]) -> list[str]:
    """Trimmed, without empties, first spelling of each name kept (case-insensitively)."""
    seen: set[str] = set()
    cleaned = []
    for name in names:
        name = " ".join(name.split())
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            cleaned.append(name)
    return cleaned


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: AttributionMode | None = Field(
        default=None, description="Default: the project's `settings.attribution_mode`."
    )


class SampleLine(BaseModel):
    segment_id: UUID
    text: str


class CharacterRead(BaseModel):
    id: UUID
    name: str
    aliases: list[str]
    gender: Gender
    description: str | None
    line_count: int = Field(description="Dialogue segments spoken by the character.")
    voice: VoiceChoice | None
    sample_lines: list[SampleLine] = Field(description="Up to three, longest first.")


class CharacterUpdate(BaseModel):
    """Any field given is changed; `voice: null` gives the character back to the narrator."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    aliases: list[str] | None = Field(default=None, max_length=50)
    gender: Gender | None = None
    description: str | None = Field(default=None, max_length=2000)
    voice: VoiceChoice | None = None

    @field_validator("aliases")
    @classmethod
    def _clean_aliases(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if any(len(alias) > 200 for alias in value):
            raise ValueError("an alias has at most 200 characters")
        return clean_names(value)


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into_id: UUID = Field(description="The character that remains.")


class SplitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aliases: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Aliases of the character that name someone else; the first becomes the new "
        "character's name.",
    )

    @field_validator("aliases")
    @classmethod
    def _clean_aliases(cls, value: list[str]) -> list[str]:
        cleaned = clean_names(value)
        if not cleaned:
            raise ValueError("give at least one alias")
        return cleaned


class AuditionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    voice: VoiceChoice | None = Field(
        default=None, description="Default: the character's voice, else the narrator's."
    )
    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Default: the character's longest line.",
    )


class ProposedVoice(BaseModel):
    voice: VoiceChoice | None = Field(description="None: no distinct voice left; the narrator.")
    kept: bool = Field(description="Already chosen by a person; the proposal keeps it.")


class CharacterCasting(ProposedVoice):
    character_id: UUID
    name: str
    gender: Gender
    line_count: int


class CastingProposal(BaseModel):
    engine: str = Field(description="The engine whose catalogue the voices come from.")
    locale: str
    narrator: ProposedVoice
    characters: list[CharacterCasting] = Field(description="By line count, most lines first.")
    applied: bool
