"""Assembling a flat stream of headings and paragraphs into chapters (TXT, Markdown and DOCX).

Each of those parsers reduces its format to `Block`s; the rules for untitled openings, tables of
contents written as heading lines, and front/back matter live here once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from khipu.manuscripts.document import ChapterKind, Paragraph, ParsedChapter
from khipu.manuscripts.normalize import normalize_text
from khipu.manuscripts.parsing.headings import is_title_like, matter_kind_for_title

# An opening without a heading this long is the start of the story, not a title page.
SUBSTANTIAL_WORDS = 150
_BYLINE = re.compile(r"by\s+(?P<author>[^\W\d_][\w .’'-]{1,60})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HeadingBlock:
    """A chapter-level heading; `book_title` marks the one heading that names the whole book."""

    title: str
    book_title: bool = False


@dataclass(frozen=True, slots=True)
class TextBlock:
    text: str


@dataclass(frozen=True, slots=True)
class SceneBreak:
    """An ornament or rule between paragraphs; it marks the next paragraph."""


Block = HeadingBlock | TextBlock | SceneBreak


@dataclass(frozen=True, slots=True)
class AssembledBook:
    chapters: tuple[ParsedChapter, ...]
    title: str | None  # found in the text: a Title-styled line, a lone top heading, a title line
    author: str | None  # found in a "by …" line of the opening


@dataclass(slots=True)
class _Draft:
    title: str | None
    book_title: bool = False
    paragraphs: list[Paragraph] = field(default_factory=list)


def assemble_chapters(blocks: Iterable[Block]) -> AssembledBook:
    """Group blocks into chapters in reading order and decide each chapter's title and kind."""
    drafts = _drafts_from_blocks(blocks)
    drafts = _without_contents_lines(drafts)
    title = next((d.title for d in drafts if d.book_title), None)
    author = _byline_author(drafts)
    chapters: list[ParsedChapter] = []
    seen_body = False
    for draft in drafts:
        if draft.title is None:
            chapter, title_line = _untitled_chapter(draft.paragraphs, only=len(drafts) == 1)
            title = title or title_line
        else:
            chapter = _titled_chapter(
                draft.title, draft.paragraphs, book_title=draft.book_title, seen_body=seen_body
            )
        seen_body = seen_body or chapter.kind == "chapter"
        chapters.append(chapter)
    return AssembledBook(tuple(chapters), title, author)


def join_cells(cells: list[str]) -> str:
    """A table row read aloud: non-empty cells in order, separated by commas unless punctuated."""
    text = ""
    for cell in (c for c in cells if c):
        if text:
            text += " " if text.endswith((".", ",", ";", ":", "!", "?")) else ", "
        text += cell
    return text


def _drafts_from_blocks(blocks: Iterable[Block]) -> list[_Draft]:
    drafts = [_Draft(title=None)]
    scene_pending = False
    for block in blocks:
        if isinstance(block, HeadingBlock):
            drafts.append(_Draft(title=normalize_text(block.title), book_title=block.book_title))
            scene_pending = False
        elif isinstance(block, SceneBreak):
            # A break before any text of the chapter separates nothing.
            scene_pending = bool(drafts[-1].paragraphs)
        else:
            text = normalize_text(block.text)
            if text:
                drafts[-1].paragraphs.append(Paragraph(text, scene_break_before=scene_pending))
                scene_pending = False
    if not drafts[0].paragraphs:
        drafts.pop(0)
    return drafts


def _without_contents_lines(drafts: list[_Draft]) -> list[_Draft]:
    """Drop runs of bare headings that repeat later: a table of contents typed as heading lines."""
    last_with_text: dict[str, int] = {}
    for index, draft in enumerate(drafts):
        if draft.title and draft.paragraphs:
            last_with_text[draft.title.casefold()] = index

    def repeated_later(position: int) -> bool:
        draft = drafts[position]
        key = (draft.title or "").casefold()
        return not draft.paragraphs and last_with_text.get(key, -1) > position

    keep = [True] * len(drafts)
    index = 0
    while index < len(drafts):
        end = index
        while end < len(drafts) and drafts[end].title is not None and repeated_later(end):
            end += 1
        if end - index >= 2:
            keep[index:end] = [False] * (end - index)
        index = max(end, index + 1)
    return [draft for draft, kept in zip(drafts, keep, strict=True) if kept]


def _titled_chapter(
    title: str, paragraphs: list[Paragraph], *, book_title: bool, seen_body: bool
) -> ParsedChapter:
    """A section under a heading: a chapter unless its title or role says front/back matter."""
    kind: ChapterKind
    if book_title:
        substantial = _word_count(paragraphs) >= SUBSTANTIAL_WORDS
        kind = "chapter" if substantial else "front_matter"
    else:
        kind = matter_kind_for_title(title, after_body=seen_body) or "chapter"
    return ParsedChapter(title, kind, tuple(paragraphs))


def _untitled_chapter(
    paragraphs: list[Paragraph], *, only: bool
) -> tuple[ParsedChapter, str | None]:
    """Text before the first heading (or a manuscript without any heading).

    A whole manuscript without headings is one chapter, titled by its first line when that line
    reads as a title, else "Chapter 1". A substantial opening before the first heading is a
    chapter ("Opening" unless titled); a short one is front matter (a title page, a byline).
    Also returns the title line found, which then names the manuscript too.
    """
    titled = len(paragraphs) > 1 and is_title_like(paragraphs[0].text)
    title = paragraphs[0].text if titled else None
    body = tuple(paragraphs[1:]) if titled else tuple(paragraphs)
    if only:
        return ParsedChapter(title or "Chapter 1", "chapter", body), title
    if _word_count(paragraphs) >= SUBSTANTIAL_WORDS:
        return ParsedChapter(title or "Opening", "chapter", body), title
    if title is None and is_title_like(paragraphs[0].text):
        title, body = paragraphs[0].text, ()
    return ParsedChapter(title or "Front Matter", "front_matter", body), title


def _byline_author(drafts: list[_Draft]) -> str | None:
    for draft in drafts[:2]:
        if draft.title is not None and not draft.book_title:
            continue
        for paragraph in draft.paragraphs[:4]:
            match = _BYLINE.fullmatch(paragraph.text.rstrip("."))
            if match:
                return match.group("author").strip()
    return None


def _word_count(paragraphs: list[Paragraph]) -> int:
    return sum(len(paragraph.text.split()) for paragraph in paragraphs)
