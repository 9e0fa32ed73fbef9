"""Markdown manuscripts: headings (ATX and setext) make chapters, markup is stripped to its text.

Chapters are the highest heading level used, except that a single top-level heading opening
the file above lower-level headings is the book's title ("# Book" then "## Chapter 1" ...).
Deeper headings stay in the text as their own paragraphs. A file without any Markdown heading
falls back to the plain-text rules ("Chapter 1", "XII" lines). List items and table rows are
paragraphs of their own; thematic breaks are scene breaks; footnotes and images are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from khipu.manuscripts.document import ParsedManuscript
from khipu.manuscripts.parsing.headings import (
    chapter_heading_level,
    is_chapter_heading,
    is_scene_break,
)
from khipu.manuscripts.parsing.sections import (
    Block,
    HeadingBlock,
    SceneBreak,
    TextBlock,
    assemble_chapters,
    join_cells,
)
from khipu.manuscripts.parsing.text import decode_text, join_wrapped_lines, unify_line_endings

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT_1 = re.compile(r" {0,3}=+[ \t]*")
_SETEXT_2 = re.compile(r" {0,3}-+[ \t]*")
_THEMATIC = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"\s*(?:[-*+]|(?P<number>\d{1,9})[.)])\s+(?P<text>.*)")
_QUOTE_PREFIX = re.compile(r"^\s{0,3}(?:>\s?)+")
_TABLE_ROW = re.compile(r"\s*\|.*\|\s*")
_TABLE_RULE = re.compile(r"\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*")
_REFERENCE_DEFINITION = re.compile(r" {0,3}\[[^\]^]+\]:\s*\S.*")
_FOOTNOTE_DEFINITION = re.compile(r" {0,3}\[\^[^\]]+\]:.*")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<body>(?:.*\n){0,60}?)(?:---|\.\.\.)[ \t]*(?:\n|\Z)")

_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])")
_INLINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"`+([^`]+?)`+"), r"\1"),
    (re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]"), ""),
    (re.compile(r"\[\^[^\]]+\]"), ""),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
)


@dataclass(frozen=True, slots=True)
class _Heading:
    level: int
    title: str


_MarkdownBlock = _Heading | TextBlock | SceneBreak


def parse_markdown(data: bytes) -> ParsedManuscript:
    text = _HTML_COMMENT.sub("", unify_line_endings(decode_text(data)))
    metadata, text = _front_matter(text)
    book = assemble_chapters(_chapter_blocks(list(_markdown_blocks(text.split("\n")))))
    return ParsedManuscript(
        format="md",
        title=metadata.get("title") or book.title,
        author=metadata.get("author") or book.author,
        language=metadata.get("lang") or metadata.get("language"),
        chapters=book.chapters,
    )


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """YAML-style front matter (`title:`, `author:`, `lang:`), read as simple key: value lines."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    metadata: dict[str, str] = {}
    for line in match.group("body").splitlines():
        key, colon, value = line.partition(":")
        if colon and value.strip():
            metadata[key.strip().lower()] = value.strip().strip("\"'")
    return metadata, text[match.end() :]


def strip_inline_markup(text: str) -> str:
    """Markdown inline markup to plain text: emphasis, code, links, images, footnote refs, HTML."""
    escaped: list[str] = []

    def protect(match: re.Match[str]) -> str:
        escaped.append(match.group(1))
        return f"\ue000{len(escaped) - 1}\ue001"

    text = _ESCAPED.sub(protect, text)
    for pattern, replacement in _INLINE_RULES:
        text = pattern.sub(replacement, text)
    return re.sub(r"\ue000(\d+)\ue001", lambda m: escaped[int(m.group(1))], text)


def _markdown_blocks(lines: list[str]) -> Iterator[_MarkdownBlock]:
    """Block structure of a Markdown document, line by line (CommonMark's common cases)."""
    paragraph: list[str] = []
    fence: str | None = None
    in_footnote = False

    def flush() -> Iterator[_MarkdownBlock]:
        if paragraph:
            yield TextBlock(strip_inline_markup(join_wrapped_lines(paragraph)))
            paragraph.clear()

    for raw in lines:
        if fence is not None:
            if raw.strip().startswith(fence):
                fence = None
                yield from flush()
            elif raw.strip():
                paragraph.append(raw.strip())
            continue
        if in_footnote and (raw.startswith(("    ", "\t")) or not raw.strip()):
            in_footnote = bool(raw.strip())
            continue
        in_footnote = False
        line = _QUOTE_PREFIX.sub("", raw)
        if not line.strip():
            yield from flush()
        elif fence_match := _FENCE.match(line):
            yield from flush()
            fence = fence_match.group(1)[0] * 3
        elif paragraph and _SETEXT_1.fullmatch(line):
            title = strip_inline_markup(join_wrapped_lines(paragraph))
            paragraph.clear()
            yield _Heading(1, title)
        elif paragraph and _SETEXT_2.fullmatch(line) and not _LIST_ITEM.match(paragraph[0]):
            title = strip_inline_markup(join_wrapped_lines(paragraph))
            paragraph.clear()
            yield _Heading(2, title)
        elif _THEMATIC.fullmatch(line) or is_scene_break(line):
            yield from flush()
            yield SceneBreak()  # also a lone "#": an empty heading is an author's scene break
        elif atx := _ATX.fullmatch(line):
            yield from flush()
            yield _Heading(len(atx.group(1)), strip_inline_markup(atx.group(2) or ""))
        elif _FOOTNOTE_DEFINITION.fullmatch(line):
            yield from flush()
            in_footnote = True
        elif _REFERENCE_DEFINITION.fullmatch(line) and not paragraph:
            continue
        elif _TABLE_ROW.fullmatch(line):
            yield from flush()
            if not _TABLE_RULE.fullmatch(line):
                yield TextBlock(_table_row_text(line))
        elif item := _LIST_ITEM.fullmatch(line):
            yield from flush()
            number = item.group("number")
            paragraph.append(f"{number}. {item.group('text')}" if number else item.group("text"))
        else:
            paragraph.append(line.strip())
    yield from flush()


def _table_row_text(line: str) -> str:
    cells = [strip_inline_markup(cell.strip()) for cell in line.strip().strip("|").split("|")]
    return join_cells(cells)


def _chapter_blocks(blocks: list[_MarkdownBlock]) -> Iterator[Block]:
    levels = [block.level for block in blocks if isinstance(block, _Heading)]
    if not levels:
        yield from _plain_text_headings(blocks)
        return
    chapter_level = chapter_heading_level(levels)
    first_heading = next(block for block in blocks if isinstance(block, _Heading))
    book_title = first_heading if first_heading.level < chapter_level else None
    for block in blocks:
        if not isinstance(block, _Heading):
            yield block
        elif block is book_title:
            yield HeadingBlock(block.title, book_title=True)
        elif block.level <= chapter_level:
            yield HeadingBlock(block.title)
        else:
            yield TextBlock(block.title)  # a section heading inside a chapter is read as text


def _plain_text_headings(blocks: list[_MarkdownBlock]) -> Iterator[Block]:
    for block in blocks:
        if isinstance(block, TextBlock) and is_chapter_heading(block.text):
            yield HeadingBlock(block.text)
        elif not isinstance(block, _Heading):
            yield block
