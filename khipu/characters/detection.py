"""Detecting characters: what the job reads, and how its answer is stored.

The engine (local rules or an LLM) gets the included chapters' lines in reading order, the
characters a person edited (as known) and the lines a person pinned (as locked). Its answer is
stored in one transaction: characters upserted (by id, then by name, then by a shared alias, so
ids stay stable across runs) and only the lines whose speaker changes are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from khipu.analytics import service as analytics
from khipu.characters import llm, repository
from khipu.characters.attribution import AttributionResult, DetectedCharacter, KnownCharacter, Line
from khipu.characters.models import Character
from khipu.core.errors import Conflict
from khipu.core.models import utcnow
from khipu.core.permissions import Principal
from khipu.core.runtime import Runtime
from khipu.jobs import service as jobs
from khipu.manuscripts import service as manuscripts
from khipu.projects import service as projects
from khipu.tenants import service as tenants

if TYPE_CHECKING:  # other modules' tables, for annotations only
    from khipu.jobs.models import Job
    from khipu.manuscripts.models import Segment
    from khipu.projects.models import Project

CHARACTERS_DETECT = "characters_detect"
# A rough token count for the spending-cap check of an llm detection: the text (~4 characters a
# token), a short answer per dialogue line, and the instructions and character list per chapter.
CHARS_PER_TOKEN = 4
ANSWER_TOKENS_PER_LINE = 20
PROMPT_TOKENS_PER_CHAPTER = 600


class NothingToDetect(Conflict):
    title = "Nothing to detect"


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
            Line(
                str(s.id),
                position[s.chapter_id],
                s.paragraph,
                s.kind,
                s.text,
                scene_break=s.boundary == "scene",
            )
            for s in read
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
    """Only lines whose speaker changes are read again (row-locked, in one query) and written. A
    line a person changed since detection started was locked by that change: it is skipped."""
    wanted = {
        UUID(line_id): ids.get(attribution.speaker) if attribution.speaker else None
        for line_id, attribution in result.attributions.items()
    }
    changing = [
        line for line, speaker in wanted.items() if speaker != detection.speakers.get(str(line))
    ]
    reassigned = 0
    for segment in await manuscripts.segments_by_ids(session, changing, for_update=True):
        if segment.speaker_locked or segment.kind != "dialogue":
            continue
        manuscripts.assign_speaker(segment, wanted[segment.id], locked=False)
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
    locked_to = await manuscripts.locked_speakers(session, project_id)
    removed = 0
    for row in rows:
        if row.id in kept or row.user_edited or row.id in locked_to:
            continue
        await repository.delete(session, row)
        removed += 1
    return removed
