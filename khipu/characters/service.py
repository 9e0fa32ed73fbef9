"""Characters and casting: who speaks, and in which voice.

Detection (a job, see tasks.py) fills the character list and each dialogue segment's speaker;
people then correct it (rename, merge, split, reassign a line) and cast voices. A person's
correction is never undone by detection: an edited character is passed to it as known (same id,
name, aliases, gender) and a line whose speaker a person set is locked.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from khipu.analytics import service as analytics
from khipu.audio import voices
from khipu.audio.engines import VoiceSpec, synthesize_with_retries
from khipu.characters import llm, repository
from khipu.characters.attribution import AttributionResult, DetectedCharacter, KnownCharacter, Line
from khipu.characters.attribution.names import name_list_gender, parse_surface, title_gender
from khipu.characters.casting import Casting, CastingCandidate, propose_casting
from khipu.characters.models import Character
from khipu.characters.schemas import (
    AuditionRequest,
    CastingProposal,
    CharacterCasting,
    CharacterRead,
    CharacterUpdate,
    ProposedVoice,
    SampleLine,
)
from khipu.core import audit
from khipu.core.errors import Conflict, InvalidInput, NotFound
from khipu.core.models import utcnow
from khipu.core.pagination import PageParams
from khipu.core.permissions import Action, Principal
from khipu.core.runtime import Runtime
from khipu.jobs import service as jobs
from khipu.jobs.models import Job
from khipu.manuscripts import service as manuscripts
from khipu.manuscripts.models import Segment
from khipu.projects import service as projects
from khipu.projects.models import Project
from khipu.projects.schemas import ProjectUpdate, VoiceChoice
from khipu.tenants import service as tenants

CHARACTERS_DETECT = "characters_detect"
SAMPLE_LINES = 3
# A rough token count for the spending-cap check of an llm detection: the text (~4 characters a
# token), a short answer per dialogue line, and the instructions and character list per chapter.
CHARS_PER_TOKEN = 4
ANSWER_TOKENS_PER_LINE = 20
PROMPT_TOKENS_PER_CHAPTER = 600


class CharacterNotFound(NotFound):
    title = "Character not found"


class NothingToDetect(Conflict):
    title = "Nothing to detect"


class CannotMerge(InvalidInput):
    title = "Cannot merge"


class NotAnAlias(InvalidInput):
    title = "Not an alias"


class NothingToAudition(InvalidInput):
    title = "Nothing to audition"


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
    character = await repository.get(session, character_id, for_update=for_update)
    if character is None:
        raise CharacterNotFound(f"No character has the id {character_id}.")
    try:
        project = await projects.get_project_for(session, principal, character.project_id, action)
    except NotFound as exc:
        raise CharacterNotFound(f"No character has the id {character_id}.") from exc
    return character, project


async def _lines_by_character(session: AsyncSession, project_id: UUID) -> dict[UUID, list[Segment]]:
    """Each character's dialogue segments (every chapter, included or not)."""
    by_character: dict[UUID, list[Segment]] = defaultdict(list)
    for segment in await manuscripts.segments_of_project(session, project_id, included_only=False):
        if segment.kind == "dialogue" and segment.character_id is not None:
            by_character[segment.character_id].append(segment)
    return by_character


def _view(character: Character, lines: Sequence[Segment]) -> CharacterRead:
    longest = sorted(lines, key=lambda s: (-len(s.text), str(s.id)))[:SAMPLE_LINES]
    return CharacterRead(
        id=character.id,
        name=character.name,
        aliases=list(character.aliases),
        gender=character.gender,  # type: ignore[arg-type]
        description=character.description,
        line_count=len(lines),
        voice=VoiceChoice.model_validate(character.voice) if character.voice else None,
        sample_lines=[SampleLine(segment_id=s.id, text=s.text) for s in longest],
    )


async def list_characters(
    session: AsyncSession, project: Project, params: PageParams
) -> tuple[list[CharacterRead], str | None]:
    characters, cursor = await repository.page_of_project(session, project.id, params)
    lines = await _lines_by_character(session, project.id)
    return [_view(c, lines.get(c.id, [])) for c in characters], cursor


# -- corrections --------------------------------------------------------------------------------


def _record(
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


def _touch(character: Character) -> None:
    """A person changed the character: detection keeps it as it is from now on."""
    character.user_edited = True
    character.updated_at = utcnow()


def _without(names: Iterable[str], *excluded: str) -> list[str]:
    gone = {name.casefold() for name in excluded}
    return [name for name in dict.fromkeys(names) if name.casefold() not in gone]


def _set_voice(character: Character, voice: VoiceSpec | None, lines: Sequence[Segment]) -> bool:
    """Cast `voice` (None: the narrator's). Only this character's dialogue is heard differently,
    so only its segments go back to pending; the voice is in the cache key, so the next
    synthesis re-makes exactly those. True if the voice changed."""
    current = voices.voice_from(character.voice) if character.voice else None
    if voice == current:
        return False
    character.voice = voice.as_dict() if voice else None
    for segment in lines:
        manuscripts.mark_for_resynthesis(segment)
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
    lines = await _lines_by_character(session, character.project_id)
    own_lines = lines.get(character.id, [])
    if not fields:
        return _view(character, own_lines)
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
    voice_changed = False
    if "voice" in fields:
        voice = voices.validate_choice(runtime, data.voice.model_dump()) if data.voice else None
        voice_changed = _set_voice(character, voice, own_lines)
    _touch(character)
    _record(
        session,
        principal,
        "character.update",
        character,
        fields=sorted(fields),
        recast=voice_changed,
    )
    return _view(character, own_lines)


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
    segments = await manuscripts.segments_of_project(
        session, source.project_id, included_only=False
    )
    for segment in segments:
        if segment.character_id == source.id:
            manuscripts.assign_speaker(segment, target.id, locked=segment.speaker_locked)
    target.aliases = _without([*target.aliases, source.name, *source.aliases], target.name)
    if target.gender == "unknown":
        target.gender = source.gender
    target.description = target.description or source.description
    _touch(target)
    _record(session, principal, "character.merge", target, merged=str(source.id))
    await session.flush()  # the lines point at the target before the source goes
    await repository.delete(session, source)
    return _view(
        target, [s for s in segments if s.kind == "dialogue" and s.character_id == target.id]
    )


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
    _touch(character)
    _record(session, principal, "character.split", character, into=str(created.id))
    return _view(created, moved)


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


# -- detection ----------------------------------------------------------------------------------


async def start_detection(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    project: Project,
    mode: str | None,
) -> Job:
    """The running detection of the project if there is one (whatever its mode), else a new job
    in `mode` (default: the project's attribution mode)."""
    mode = mode or projects.settings_of(project).attribution_mode
    if mode == "llm" and not llm.configured(runtime.settings):
        raise llm.LLMNotConfigured(
            "Attribution by a language model is not configured here (AZURE_OPENAI_ENDPOINT and "
            "AZURE_OPENAI_API_KEY, or OPENAI_API_KEY); use mode 'local'."
        )
    segments = await manuscripts.segments_of_project(session, project.id, included_only=True)
    if not segments:
        raise NothingToDetect("There is nothing to read: upload a manuscript or include a chapter.")
    if mode == "llm":
        await _check_llm_budget(session, runtime, project, segments)
    job, _ = await jobs.start_job(
        session,
        runtime,
        tenant_id=project.tenant_id,
        project_id=project.id,
        kind=CHARACTERS_DETECT,
        params={"mode": mode},
        created_by=principal.user_id,
    )
    return job


async def _check_llm_budget(
    session: AsyncSession, runtime: Runtime, project: Project, segments: Sequence[Segment]
) -> None:
    cap = (await tenants.get_profile(session, project.tenant_id)).settings.monthly_spending_cap_usd
    if cap is None:
        return
    tokens = (
        sum(len(s.text) for s in segments) // CHARS_PER_TOKEN
        + ANSWER_TOKENS_PER_LINE * sum(s.kind == "dialogue" for s in segments)
        + PROMPT_TOKENS_PER_CHAPTER * len({s.chapter_id for s in segments})
    )
    await analytics.check_spending_cap(
        session, cap, additional=analytics.llm_cost(runtime.settings, tokens)
    )


@dataclass(frozen=True)
class DetectionInput:
    """What detection reads, as it was when it started."""

    lines: tuple[Line, ...]  # included chapters, reading order
    known: tuple[KnownCharacter, ...]  # edited by a person, or the speaker of a locked line
    locked: Mapping[str, str]  # line id -> character id, set by a person
    speakers: Mapping[str, UUID | None]  # every dialogue line's speaker before detection

    @property
    def known_keys(self) -> frozenset[str]:
        return frozenset(k.key for k in self.known)


async def detection_input(session: AsyncSession, project_id: UUID) -> DetectionInput:
    chapters = await manuscripts.chapters_of(session, project_id)
    position = {c.id: i for i, c in enumerate(chapters) if c.included}
    segments = await manuscripts.segments_of_project(session, project_id, included_only=False)
    locked_speakers = {
        s.character_id for s in segments if s.speaker_locked and s.character_id is not None
    }
    read = sorted(
        (s for s in segments if s.chapter_id in position),
        key=lambda s: (position[s.chapter_id], s.position),
    )
    characters = await repository.of_project(session, project_id)
    return DetectionInput(
        lines=tuple(
            Line(str(s.id), position[s.chapter_id], s.paragraph, s.kind, s.text) for s in read
        ),
        known=tuple(
            KnownCharacter(str(c.id), c.name, tuple(c.aliases), c.gender)
            for c in characters
            if c.user_edited or c.id in locked_speakers
        ),
        locked={
            str(s.id): str(s.character_id)
            for s in read
            if s.kind == "dialogue" and s.speaker_locked and s.character_id is not None
        },
        speakers={str(s.id): s.character_id for s in read if s.kind == "dialogue"},
    )


@dataclass(frozen=True)
class StoredDetection:
    characters: int
    created: int
    updated: int
    removed: int
    dialogue_lines: int
    attributed: int
    reassigned: int


def _same_name(detected: DetectedCharacter, row: Character) -> bool:
    return detected.name.casefold() == row.name.casefold()


def _shared_name(detected: DetectedCharacter, row: Character) -> bool:
    theirs = {n.casefold() for n in (row.name, *row.aliases)}
    return any(n.casefold() in theirs for n in (detected.name, *detected.aliases))


def match_characters(
    detected: Sequence[DetectedCharacter], rows: Sequence[Character], *, known_keys: frozenset[str]
) -> dict[str, Character]:
    """Detected key -> stored character: known characters by id; the others by the same name,
    then by a name in common, so that a re-run keeps ids (and what hangs on them)."""
    by_id = {str(row.id): row for row in rows}
    matches = {d.key: by_id[d.key] for d in detected if d.key in by_id}
    claimed = {row.id for row in matches.values()}
    for same in (_same_name, _shared_name):
        for character in detected:
            if character.key in matches or character.key in known_keys:
                continue
            row = next((r for r in rows if r.id not in claimed and same(character, r)), None)
            if row is not None:
                matches[character.key] = row
                claimed.add(row.id)
    return matches


async def store_detection(
    session: AsyncSession,
    *,
    tenant_id: UUID,
    project_id: UUID,
    detection: DetectionInput,
    result: AttributionResult,
) -> StoredDetection:
    """Upsert the characters found and set every dialogue line's speaker, in the caller's one
    transaction. Kept as they are: characters a person edited and lines a person locked, also
    when that happened while detection ran; removed: characters no longer found that nobody
    edited and no locked line names."""
    rows = await repository.of_project(session, project_id, for_update=True)
    matches = match_characters(result.characters, rows, known_keys=detection.known_keys)
    ids: dict[str, UUID] = {}
    created = updated = 0
    for character in result.characters:
        row = matches.get(character.key)
        if row is None and character.key in detection.known_keys:
            continue  # deleted (merged away) while detection ran
        if row is None:
            row = await repository.add(
                session,
                Character(
                    tenant_id=tenant_id,
                    project_id=project_id,
                    name=character.name,
                    aliases=list(character.aliases),
                    gender=character.gender,
                ),
            )
            created += 1
        elif not row.user_edited and _refresh(row, character):
            updated += 1
        ids[character.key] = row.id
    reassigned = await _assign_speakers(session, detection, result, ids)
    removed = await _remove_unfound(session, project_id, rows, kept=set(ids.values()))
    return StoredDetection(
        characters=len(ids),
        created=created,
        updated=updated,
        removed=removed,
        dialogue_lines=len(result.attributions),
        attributed=sum(1 for a in result.attributions.values() if a.speaker in ids),
        reassigned=reassigned,
    )


def _refresh(row: Character, character: DetectedCharacter) -> bool:
    """Take what detection says of a character nobody edited; True if anything changed."""
    found = (character.name, list(character.aliases), character.gender)
    if (row.name, list(row.aliases), row.gender) == found:
        return False
    row.name, row.aliases, row.gender = found
    row.updated_at = utcnow()
    return True


async def _assign_speakers(
    session: AsyncSession,
    detection: DetectionInput,
    result: AttributionResult,
    ids: Mapping[str, UUID],
) -> int:
    """Only lines whose speaker changes are read again (row-locked) and written. A line a person
    changed since detection started was locked by that change, so it is skipped here."""
    reassigned = 0
    for line_id, attribution in result.attributions.items():
        wanted = ids.get(attribution.speaker) if attribution.speaker else None
        if wanted == detection.speakers.get(line_id):
            continue
        segment = await manuscripts.get_segment(session, UUID(line_id), for_update=True)
        if segment is None or segment.speaker_locked or segment.kind != "dialogue":
            continue
        manuscripts.assign_speaker(segment, wanted, locked=False)
        reassigned += 1
    await session.flush()
    return reassigned


async def _remove_unfound(
    session: AsyncSession, project_id: UUID, rows: Sequence[Character], *, kept: set[UUID]
) -> int:
    """Characters detection no longer finds go, unless a person edited them or locked a line to
    them (read now: also while detection ran). Lines left pointing at a removed character (in
    excluded chapters) lose their speaker by the foreign key; their audio stays right, as a
    character nobody edited has no voice."""
    locked_to = {
        s.character_id
        for s in await manuscripts.segments_of_project(session, project_id, included_only=False)
        if s.speaker_locked and s.character_id is not None
    }
    removed = 0
    for row in rows:
        if row.id in kept or row.user_edited or row.id in locked_to:
            continue
        await repository.delete(session, row)
        removed += 1
    return removed


# -- casting ------------------------------------------------------------------------------------


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
    lines = await _lines_by_character(session, project.id)
    rows.sort(key=lambda c: (-len(lines.get(c.id, [])), c.name))
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
                line_count=len(lines.get(c.id, [])),
                voice=voices.voice_from(c.voice) if c.voice else None,
            )
            for c in rows
        ],
    )
    kept = {c.id for c in rows if c.voice is not None}
    if apply:
        await _apply_casting(session, principal, project, rows, lines, casting)
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
                line_count=len(lines.get(c.id, [])),
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
    lines: Mapping[UUID, Sequence[Segment]],
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
            _set_voice(character, voice, lines.get(character.id, []))
            _touch(character)
            _record(session, principal, "character.cast", character, voice=voice.as_dict())


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
    text = data.text or await _longest_line(session, character)
    engine = voices.engine_for(runtime, voice.engine)
    cost = analytics.tts_cost(runtime.settings, voice.engine, len(text))
    await _check_tts_budget(session, project, cost)
    lexicon, _ = await manuscripts.get_lexicon_entries(session, project.id)
    payload = engine.payload(text, voice, language=project.language, lexicon=lexicon)
    audio = await synthesize_with_retries(engine, payload, voice)
    analytics.record_usage(
        session,
        tenant_id=project.tenant_id,
        project_id=project.id,
        kind="tts",
        engine=voice.engine,
        characters=len(text),
        cost=cost,
    )
    return audio.wav


async def _longest_line(session: AsyncSession, character: Character) -> str:
    lines = (await _lines_by_character(session, character.project_id)).get(character.id)
    if not lines:
        raise NothingToAudition(
            f"{character.name} has no lines yet; send a `text` to hear the voice."
        )
    return max(lines, key=lambda s: len(s.text)).text


async def _check_tts_budget(session: AsyncSession, project: Project, cost: Decimal) -> None:
    if cost:
        cap = (
            await tenants.get_profile(session, project.tenant_id)
        ).settings.monthly_spending_cap_usd
        await analytics.check_spending_cap(session, cap, additional=cost)
