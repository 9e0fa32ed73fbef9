"""Value types of a parsed manuscript: what every format parser returns and the segmenter reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ChapterKind = Literal["chapter", "front_matter", "back_matter"]
ManuscriptFormat = Literal["docx", "epub", "txt", "md"]


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str  # normalised text of one paragraph (list item, table row, ...)
    scene_break_before: bool = False


@dataclass(frozen=True, slots=True)
class ParsedChapter:
    title: str  # the book's title for it ("I", "Chapter 1", "Preface")
    kind: ChapterKind
    paragraphs: tuple[Paragraph, ...]  # body only; the heading itself is NOT a paragraph


@dataclass(frozen=True, slots=True)
class ParsedManuscript:
    format: ManuscriptFormat
    title: str | None
    author: str | None
    language: str | None  # BCP 47 if known ("en-GB")
    chapters: tuple[ParsedChapter, ...]  # reading order; front/back matter included with their kind


@dataclass(frozen=True, slots=True)
class ImportLimits:
    max_upload_bytes: int = 50 * 1024 * 1024
    max_uncompressed_bytes: int = 200 * 1024 * 1024  # sum of zip members' declared sizes
    max_member_bytes: int = 50 * 1024 * 1024
    max_compression_ratio: float = 100.0
    max_entries: int = 5000
