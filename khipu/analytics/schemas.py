"""Cost analytics shapes."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel


class ProjectCosts(BaseModel):
    project_id: UUID | None
    tts_characters: int
    llm_tokens: int
    estimated_cost_usd: float


class EngineCosts(BaseModel):
    engine: str
    tts_characters: int
    estimated_cost_usd: float


class Costs(BaseModel):
    tts_characters: int
    llm_tokens: int
    estimated_cost_usd: float
    by_project: list[ProjectCosts]
    by_engine: list[EngineCosts]
