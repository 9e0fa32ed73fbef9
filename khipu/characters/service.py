"""Characters: reading them and the corrections people make.

Detection (detection.py, run as a job) fills the character list and each dialogue segment's
speaker; people then correct it (rename, merge, split, reassign a line) and cast voices
(casting.py). A person's correction is never undone by detection: an edited character is passed
to it as known (same id, name, aliases, gender) and a line whose speaker a person set is locked.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from khipu.audio import voices
from khipu.audio.engines import VoiceSpec
from khipu.characters import repository
from khipu.characters.attribution.names import name_list_gender, parse_surface, title_gender
from khipu.characters.models import Character
from khipu.characters.schemas import CharacterRead, CharacterUpdate, SampleLine
from khipu.core import audit
from khipu.core.errors import InvalidInput, NotFound
from khipu.core.models import utcnow
from khipu.core.pagination import PageParams
from khipu.core.permissions import Action, Principal
from khipu.core.runtime import Runtime
from khipu.manuscripts import service as manuscripts
from khipu.projects import service as projects
from khipu.projects.schemas import VoiceChoice

if TYPE_CHECKING:  # other modules' tables, for annotations only
    from khipu.manuscripts.models import Segment
    from khipu.projects.models import Project

SAMPLE_LINES = 3


class CharacterNotFound(NotFound):
    title = "Character not found"


class CannotMerge(InvalidInput):
    title = "Cannot merge"


class NotAnAlias(InvalidInput):
    title = "Not an alias"


async def cast_voices(session: AsyncSession, project_id: UUID) -> dict[UUID, VoiceSpec]:
    """The voice of every character that has one."""
    return {
        character.id: voices.voice_from(character.voice)
        for character in await repository.of_project(session, project_id)
        if character.voice
    }


# -- reading ------------------------------------------------------------------------------------


async def get_character_for(
    session: AsyncSession,
    principal: Principal,
    character_id: UUID,
    action: Action,
    *,
    for_update: bool = False,
) -> tuple[Character, Project]:
    """The character and its project, if the principal may perform `action` on the project:
    404 if it may not even read it, 403 if it may read but not act."""
    missing = CharacterNotFound(f"No character has the id {character_id}.")
    character = await repository.get(session, character_id, for_update=for_update)
    if character is None:
        raise missing
    project = await projects.project_of_child(
        session, principal, character.project_id, action, missing=missing
    )
    return character, project


async def line_stats(
    session: AsyncSession, project_id: UUID
) -> dict[UUID, manuscripts.SpeakerLines]:
    return await manuscripts.speaker_lines(session, project_id, samples=SAMPLE_LINES)


def view(character: Character, lines: manuscripts.SpeakerLines | None) -> CharacterRead:
    return CharacterRead(
        id=character.id,
        name=character.name,
        aliases=list(character.aliases),
        gender=character.gender,  # type: ignore[arg-type]
        description=character.description,
        line_count=lines.count if lines else 0,
        voice=VoiceChoice.model_validate(character.voice) if character.voice else None,
        sample_lines=[
            SampleLine(segment_id=i, text=t) for i, t in (lines.longest if lines else [])
        ],
    )


async def view_of(session: AsyncSession, character: Character) -> CharacterRead:
    await session.flush()
    return view(character, (await line_stats(session, character.project_id)).get(character.id))


async def list_characters(
    session: AsyncSession, project: Project, params: PageParams
) -> tuple[list[CharacterRead], str | None]:
    characters, cursor = await repository.page_of_project(session, project.id, params)
    stats = await line_stats(session, project.id)
    return [view(c, stats.get(c.id)) for c in characters], cursor


# -- corrections --------------------------------------------------------------------------------


def record(
    session: AsyncSession, principal: Principal, action: str, character: Character, **detail: Any
) -> None:
    audit.record(
        session,
        tenant_id=character.tenant_id,
        actor_id=principal.user_id,
        action=action,
        target_type="character",
        target_id=character.id,
        **detail,
    )


def touch(character: Character) -> None:
    """A person changed the character: detection keeps it as it is from now on."""
    character.user_edited = True
    character.updated_at = utcnow()


def _without(names: Iterable[str], *excluded: str) -> list[str]:
    gone = {name.casefold() for name in excluded}
    return [name for name in dict.fromkeys(names) if name.casefold() not in gone]


async def set_voice(session: AsyncSession, character: Character, voice: VoiceSpec | None) -> bool:
    """Cast `voice` (None: the narrator's). Only this character's dialogue is heard differently,
    so only its segments go back to pending; the voice is in the cache key, so the next
    synthesis re-makes exactly those. True if the voice changed."""
    current = voices.voice_from(character.voice) if character.voice else None
    if voice == current:
        return False
    character.voice = voice.as_dict() if voice else None
    await manuscripts.resynthesize_lines_of(session, character.id)
    return True


async def update_character(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    character: Character,
    data: CharacterUpdate,
) -> CharacterRead:
    """Change what is given. A renamed character keeps its old name as an alias (so detection
    still recognises it) unless the aliases are given too."""
    fields = data.model_fields_set
    if not fields:
        return await view_of(session, character)
    if "name" in fields and data.name is not None and data.name != character.name:
        if "aliases" not in fields:
            character.aliases = [*character.aliases, character.name]
        character.name = data.name
    if "aliases" in fields and data.aliases is not None:
        character.aliases = data.aliases
    character.aliases = _without(character.aliases, character.name)
    if "gender" in fields and data.gender is not None:
        character.gender = data.gender
    if "description" in fields:
        character.description = data.description or None
    recast = False
    if "voice" in fields:
        voice = voices.validate_choice(runtime, data.voice.model_dump()) if data.voice else None
        recast = await set_voice(session, character, voice)
    touch(character)
    record(session, principal, "character.update", character, fields=sorted(fields), recast=recast)
    return await view_of(session, character)


async def merge_characters(
    session: AsyncSession, principal: Principal, source: Character, into_id: UUID
) -> CharacterRead:
    """`source` was the same person as `into_id`: its lines move there, its names become aliases
    there, and it is deleted. The remaining character keeps its own name, gender and voice."""
    if into_id == source.id:
        raise CannotMerge("A character cannot be merged into itself.")
    target = await repository.get(session, into_id, for_update=True)
    if target is None or target.project_id != source.project_id:
        raise CharacterNotFound(f"This project has no character {into_id}.")
    await manuscripts.move_lines(session, source.id, target.id)
    target.aliases = _without([*target.aliases, source.name, *source.aliases], target.name)
    if target.gender == "unknown":
        target.gender = source.gender
    target.description = target.description or source.description
    touch(target)
    record(session, principal, "character.merge", target, merged=str(source.id))
    await repository.delete(session, source)
    return await view_of(session, target)


def gender_of_name(name: str) -> str:
    """What a name says of its bearer: the title ("Mrs."), else a common given name."""
    form = parse_surface(name)
    if form is None:
        return "unknown"
    by_title = title_gender(form.title)
    return by_title if by_title != "unknown" else name_list_gender(form.words[0])


def _names_pattern(names: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so that "Mrs. Bennet" is found whole rather than as "Bennet".
    ordered = sorted(set(names), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, ordered)) + r")(?!\w)")


def lines_naming(
    dialogue: Sequence[Segment],
    narration: Mapping[tuple[UUID, int], str],
    *,
    moving: Sequence[str],
    staying: Sequence[str],
) -> list[Segment]:
    """The lines whose paragraph's narration ("…,” said Lydia.") names one of `moving` and none of
    `staying`. A paragraph naming both, or neither, says nothing reliable: its line stays."""
    pattern = _names_pattern([*moving, *staying])
    moving_set = set(moving)
    moved = []
    for segment in dialogue:
        found = {m.group() for m in pattern.finditer(narration.get(_paragraph_of(segment), ""))}
        if found and found <= moving_set:
            moved.append(segment)
    return moved


def _paragraph_of(segment: Segment) -> tuple[UUID, int]:
    return segment.chapter_id, segment.paragraph


async def split_character(
    session: AsyncSession, principal: Principal, character: Character, aliases: Sequence[str]
) -> CharacterRead:
    """Some of the character's aliases name someone else: they become a new character (the first
    alias its name), with the lines whose attributing narration names one of them and none of the
    names the character keeps. Every other line stays."""
    known = {alias.casefold(): alias for alias in character.aliases}
    unknown = [a for a in aliases if a.casefold() not in known]
    if unknown:
        raise NotAnAlias(
            f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not "
            f"among the aliases of {character.name!r}; split off only aliases it has."
        )
    moving = [known[a.casefold()] for a in aliases]
    staying = [character.name, *_without(character.aliases, *moving)]
    segments = await manuscripts.segments_of_project(
        session, character.project_id, included_only=False
    )
    narration: dict[tuple[UUID, int], str] = defaultdict(str)
    for segment in segments:
        if segment.kind == "narration":
            narration[_paragraph_of(segment)] += " " + segment.text
    own = [s for s in segments if s.kind == "dialogue" and s.character_id == character.id]
    moved = lines_naming(own, narration, moving=moving, staying=staying)
    created = await repository.add(
        session,
        Character(
            tenant_id=character.tenant_id,
            project_id=character.project_id,
            name=moving[0],
            aliases=moving[1:],
            gender=gender_of_name(moving[0]),
            user_edited=True,
        ),
    )
    for segment in moved:
        manuscripts.assign_speaker(segment, created.id, locked=segment.speaker_locked)
    character.aliases = staying[1:]
    touch(character)
    record(session, principal, "character.split", character, into=str(created.id))
    return await view_of(session, created)


async def assign_segment_speaker(
    session: AsyncSession, project: Project, segment: Segment, character_id: UUID | None
) -> None:
    """A person says who speaks the segment (None: nobody, the narrator reads it); detection
    keeps it from now on."""
    if character_id is not None:
        character = await repository.get(session, character_id)
        if character is None or character.project_id != project.id:
            raise CharacterNotFound(f"This project has no character {character_id}.")
    manuscripts.assign_speaker(segment, character_id, locked=True)
