"""Characters and casting: who speaks, and in which voice."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from khipu.audio.engines import VoiceSpec
from khipu.characters import repository


async def cast_voices(session: AsyncSession, project_id: UUID) -> dict[UUID, VoiceSpec]:
    """The voice of every character that has one."""
    return {
        character.id: VoiceSpec.of(
            character.voice["engine"],
            character.voice["voice_id"],
            character.voice.get("settings") or {},
        )
        for character in await repository.of_project(session, project_id)
        if character.voice
    }
