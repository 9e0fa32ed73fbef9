"""What the package builders take in: the book's metadata, its chapter masters and their timings.

Plain values, independent of the database: the export job loads them and hands them over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from khipu.core.errors import Conflict, InvalidInput


@dataclass(frozen=True, slots=True)
class BookMetadata:
    title: str
    author: str | None = None
    narrator: str | None = None
    publisher: str | None = None
    year: int | None = None
    genre: str | None = None
    description: str | None = None
    language: str | None = None  # BCP 47, e.g. "en" or "en-GB"
    isbn: str | None = None
    copyright: str | None = None


@dataclass(frozen=True, slots=True)
class WordTiming:
    text: str
    text_offset: int  # character offset of the word in its segment's text
    start_ms: int  # within the segment
    end_ms: int


@dataclass(frozen=True, slots=True)
class SegmentTiming:
    segment_id: str
    text: str  # what the reader sees, quotation marks included
    start_ms: int  # within the chapter master
    end_ms: int
    paragraph: int  # segments sharing a number are laid out in one paragraph
    kind: str  # "heading" | "narration" | "dialogue"
    words: tuple[WordTiming, ...] = ()


@dataclass(frozen=True, slots=True)
class ChapterAudio:
    title: str
    master_path: Path  # FLAC master: 44.1 kHz mono, room tone and levels already in
    duration_ms: int
    segments: tuple[SegmentTiming, ...] = ()  # needed by EPUB 3 only


@dataclass(frozen=True, slots=True)
class Cover:
    data: bytes  # JPEG or PNG


class ExportNotReady(Conflict):
    """The book lacks something a retailer requires, e.g. Spotify's ISBN; `missing` lists what
    (names, or the readiness check's items), rendered as the problem's `missing` member."""

    title = "Export not ready"

    def __init__(self, detail: str, *, missing: list[Any]) -> None:
        super().__init__(detail, missing=missing)
        self.missing = missing


class InvalidPackageInput(InvalidInput):
    """The chapters or options handed to a package builder cannot make a package."""

    title = "Invalid package input"


def require_chapters(chapters: Sequence[ChapterAudio]) -> None:
    """Every package needs at least one chapter; say so as a typed error rather than crash later."""
    if not chapters:
        raise InvalidPackageInput("a package needs at least one chapter")
