"""Casting: proposals of distinct voices for the narrator and the main characters, taken from one
engine's catalogue and matching each character's gender and the book's language; applying them;
auditions.

Voices a person already chose are kept and not handed to anyone else. A character is "main" when
it speaks at least `MAIN_CHARACTER_MIN_LINES` lines; characters are served by line count, so when
the catalogue runs out of distinct voices of a gender, the characters with fewest lines are the
ones left to the narrator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from khipu.audio import service as audio_service
from khipu.audio import voices
from khipu.audio.engines import VoiceInfo, VoiceSpec
from khipu.characters import repository, service
from khipu.characters.models import Character
from khipu.characters.schemas import (
    AuditionRequest,
    CastingProposal,
    CharacterCasting,
    ProposedVoice,
)
from khipu.core.errors import InvalidInput
from khipu.core.permissions import Principal
from khipu.core.runtime import Runtime
from khipu.manuscripts import service as manuscripts
from khipu.projects import service as projects
from khipu.projects.schemas import ProjectUpdate, VoiceChoice

if TYPE_CHECKING:  # other modules' tables, for annotations only
    from khipu.projects.models import Project

MAIN_CHARACTER_MIN_LINES = 2


@dataclass(frozen=True, slots=True)
class CastingCandidate:
    """A character as casting sees it."""

    id: UUID
    gender: str  # female | male | unknown
    line_count: int
    voice: VoiceSpec | None  # chosen by a person, kept


@dataclass(frozen=True, slots=True)
class Casting:
    narrator: VoiceSpec
    narrator_kept: bool
    voices: Mapping[UUID, VoiceSpec | None]  # every candidate; None: the narrator reads it


def language_pool(catalogue: Sequence[VoiceInfo], locale: str) -> list[VoiceInfo]:
    """Voices of the book's locale first, then of its language; the whole catalogue only when
    nothing speaks the language."""
    wanted = locale.replace("_", "-").lower()
    language = wanted.split("-", 1)[0]
    exact = [v for v in catalogue if v.locale.lower() == wanted]
    related = [
        v
        for v in catalogue
        if v.locale.lower() != wanted and v.locale.lower().split("-", 1)[0] == language
    ]
    return exact + related or list(catalogue)


def _key(voice: VoiceSpec | VoiceInfo) -> tuple[str, str]:
    # The same voice with other settings is still the same voice to a listener.
    return voice.engine, voice.voice_id


def _accepts(gender: str, voice: VoiceInfo) -> bool:
    return gender not in ("female", "male") or voice.gender == gender


def _preference(gender: str, voice: VoiceInfo) -> int:
    """Characters of unknown gender get a neutral voice when there is one."""
    return 0 if gender in ("female", "male") or voice.gender == "neutral" else 1


def propose_casting(
    catalogue: Sequence[VoiceInfo],
    *,
    locale: str,
    default_narrator: VoiceSpec,
    narrator: VoiceSpec | None,
    characters: Sequence[CastingCandidate],
) -> Casting:
    """`narrator` is the voice the project already has (kept), else `default_narrator` (or the
    first free voice of the pool) is proposed; `characters` come most lines first."""
    pool = language_pool(catalogue, locale)
    taken = {_key(c.voice) for c in characters if c.voice is not None}
    narrator_kept = narrator is not None
    if narrator is None:
        narrator = _narrator_voice(pool, default_narrator, taken)
    taken.add(_key(narrator))
    voices: dict[UUID, VoiceSpec | None] = {}
    for character in characters:
        if character.voice is not None:
            voices[character.id] = character.voice
            continue
        choice = None
        if character.line_count >= MAIN_CHARACTER_MIN_LINES:
            choice = _free_voice(pool, character.gender, taken)
        if choice is not None:
            taken.add(_key(choice))
        voices[character.id] = choice
    return Casting(narrator=narrator, narrator_kept=narrator_kept, voices=voices)


def _narrator_voice(
    pool: Sequence[VoiceInfo], default: VoiceSpec, taken: set[tuple[str, str]]
) -> VoiceSpec:
    if _key(default) not in taken:
        return default
    free = next((v for v in pool if _key(v) not in taken), None)
    return VoiceSpec.of(free.engine, free.voice_id) if free else default


def _free_voice(
    pool: Sequence[VoiceInfo], gender: str, taken: set[tuple[str, str]]
) -> VoiceSpec | None:
    fitting = [v for v in pool if _key(v) not in taken and _accepts(gender, v)]
    if not fitting:
        return None
    best = min(fitting, key=lambda v: _preference(gender, v))  # stable: catalogue order breaks ties
    return VoiceSpec.of(best.engine, best.voice_id)


class NothingToAudition(InvalidInput):
    title = "Nothing to audition"


async def recommend_casting(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    project: Project,
    *,
    apply: bool,
) -> CastingProposal:
    """Distinct voices from the active engine for the narrator and the main characters; with
    `apply`, stored as if a person had chosen them (voices already chosen are kept)."""
    engine_name = runtime.settings.tts_engine
    engine = voices.engine_for(runtime, engine_name)
    rows = await repository.of_project(session, project.id, for_update=apply)
    stats = await service.line_stats(session, project.id)

    def line_count(character: Character) -> int:
        return stats[character.id].count if character.id in stats else 0

    rows.sort(key=lambda c: (-line_count(c), c.name))
    narrator_choice = projects.settings_of(project).narrator_voice
    casting = propose_casting(
        engine.voices(),
        locale=project.language,
        default_narrator=engine.default_voice(project.language),
        narrator=voices.voice_from(narrator_choice.model_dump()) if narrator_choice else None,
        characters=[
            CastingCandidate(
                id=c.id,
                gender=c.gender,
                line_count=line_count(c),
                voice=voices.voice_from(c.voice) if c.voice else None,
            )
            for c in rows
        ],
    )
    kept = {c.id for c in rows if c.voice is not None}
    if apply:
        await _apply_casting(session, principal, project, rows, casting)
    return CastingProposal(
        engine=engine_name,
        locale=project.language,
        narrator=ProposedVoice(
            voice=VoiceChoice.model_validate(casting.narrator.as_dict()),
            kept=casting.narrator_kept,
        ),
        characters=[
            CharacterCasting(
                character_id=c.id,
                name=c.name,
                gender=c.gender,  # type: ignore[arg-type]
                line_count=line_count(c),
                voice=VoiceChoice.model_validate(v.as_dict())
                if (v := casting.voices[c.id])
                else None,
                kept=c.id in kept,
            )
            for c in rows
        ],
        applied=apply,
    )


async def _apply_casting(
    session: AsyncSession,
    principal: Principal,
    project: Project,
    rows: Sequence[Character],
    casting: Casting,
) -> None:
    if not casting.narrator_kept:
        await projects.update_project(
            session,
            principal,
            project,
            ProjectUpdate(settings={"narrator_voice": casting.narrator.as_dict()}),
        )
    for character in rows:
        voice = casting.voices[character.id]
        if character.voice is None and voice is not None:
            await service.set_voice(session, character, voice)
            service.touch(character)
            service.record(session, principal, "character.cast", character, voice=voice.as_dict())


async def audition(
    session: AsyncSession,
    runtime: Runtime,
    project: Project,
    character: Character,
    data: AuditionRequest,
) -> bytes:
    """The character's longest line (or `text`) spoken in `voice`, else its cast voice, else the
    narrator's; not cached, and a paid engine counts against the spending cap."""
    if data.voice is not None:
        voice = voices.validate_choice(runtime, data.voice.model_dump())
    elif character.voice:
        voice = voices.voice_from(character.voice)
    else:
        voice = voices.narrator_voice(runtime, project.settings, project.language)
    lexicon, _ = await manuscripts.get_lexicon_entries(session, project.id)
    audio = await audio_service.speak(
        session,
        runtime,
        tenant_id=project.tenant_id,
        project_id=project.id,
        voice=voice,
        text=data.text or await _longest_line(session, character),
        language=project.language,
        lexicon=lexicon,
    )
    return audio.wav


async def _longest_line(session: AsyncSession, character: Character) -> str:
    lines = (await service.line_stats(session, character.project_id)).get(character.id)
    if not lines:
        raise NothingToAudition(
            f"{character.name} has no lines yet; send a `text` to hear the voice."
        )
    return lines.longest[0][1]
