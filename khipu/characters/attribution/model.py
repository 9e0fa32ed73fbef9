"""Value types of local speaker attribution: the lines it reads, the characters it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

LineKind = Literal["heading", "narration", "dialogue"]
Gender = Literal["female", "male", "unknown"]


@dataclass(frozen=True, slots=True)
class Line:
    """One segment of the manuscript, in reading order."""

    id: str  # segment id (opaque)
    chapter: int  # chapter index
    paragraph: int  # paragraph index within the chapter (-1 for headings)
    kind: str  # "heading" | "narration" | "dialogue"
    text: str
    scene_break: bool = False  # a scene break ("* * *") comes before it: conversations end there


@dataclass(frozen=True, slots=True)
class KnownCharacter:
    """A character the user edited or confirmed; detection keeps its key, name and gender."""

    key: str
    name: str
    aliases: tuple[str, ...] = ()
    gender: str = "unknown"


@dataclass(frozen=True, slots=True)
class DetectedCharacter:
    key: str  # stable within one result (a KnownCharacter keeps its key)
    name: str  # canonical name ("Mr. Bennet", "Elizabeth Bennet")
    aliases: tuple[str, ...]  # other names seen ("Elizabeth", "Lizzy", "Eliza", ...)
    gender: Gender
    line_count: int
    sample_lines: tuple[str, ...]  # up to 3 line ids, longest first, for auditions


@dataclass(frozen=True, slots=True)
class Attribution:
    speaker: str | None  # character key, None when unknown
    confidence: float  # 0..1
    method: str  # "explicit", "pronoun", "epithet", "turn_taking", "vocative", "continuation", ...


@dataclass(frozen=True, slots=True)
class AttributionResult:
    characters: tuple[DetectedCharacter, ...]
    attributions: Mapping[str, Attribution]  # every dialogue line id -> Attribution
