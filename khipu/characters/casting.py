"""Casting proposals: distinct voices for the narrator and the main characters, taken from one
engine's catalogue, matching each character's gender and the book's language.

Voices a person already chose are kept and not handed to anyone else. A character is "main" when
it speaks at least `MAIN_CHARACTER_MIN_LINES` lines; characters are served by line count, so when
the catalogue runs out of distinct voices of a gender, the characters with fewest lines are the
ones left to the narrator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from khipu.audio.engines import VoiceInfo, VoiceSpec

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
