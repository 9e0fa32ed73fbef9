"""Plain-text manuscripts: strict UTF-8 decoding, paragraphs from blank lines, headings from lines.

Hard-wrapped lines are joined; a file without any blank line is read as one paragraph per line.
Lines holding only a page number are dropped. Bare arabic numbers are therefore never chapter
headings in TXT ("Chapter 3" or "III" are).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from khipu.manuscripts.document import ParsedManuscript
from khipu.manuscripts.errors import InvalidTextEncoding
from khipu.manuscripts.normalize import is_page_number_line
from khipu.manuscripts.parsing.headings import is_chapter_heading, is_scene_break, is_title_like
from khipu.manuscripts.parsing.sections import (
    Block,
    HeadingBlock,
    SceneBreak,
    TextBlock,
    assemble_chapters,
)

_BLANK_LINES = re.compile(r"\n[ \t\u00a0]*\n")
_GUTENBERG_START = re.compile(r"^\*\*\* ?START OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_GUTENBERG_END = re.compile(r"^\*\*\* ?END OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_text(data: bytes) -> str:
    """Decode an uploaded text file: UTF-8 with or without BOM (UTF-16 only with its BOM).

    Anything else is refused with the byte offset of the first invalid byte, so the user can
    find it; guessing a legacy encoding would silently corrupt names and quotation marks.
    """
    if data.startswith(_UTF16_BOMS):
        return _decode_strictly(data, "utf-16", skip=0)
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    return _decode_strictly(data, "utf-8", skip=skip)


def _decode_strictly(data: bytes, encoding: str, *, skip: int) -> str:
    try:
        text = data[skip:].decode(encoding)
    except UnicodeDecodeError as error:
        offset = skip + error.start
        raise InvalidTextEncoding(
            f"The text file is not valid {encoding.upper()}: the first invalid byte "
            f"(0x{data[offset]:02x}) is at byte offset {offset}. "
            f"Save the file as UTF-8 and upload it again.",
            byte_offset=offset,
        ) from None
    return text.lstrip("\ufeff")


def unify_line_endings(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")


def parse_txt(data: bytes) -> ParsedManuscript:
    text = _without_gutenberg_boilerplate(unify_line_endings(decode_text(data)))
    lines = [line for line in text.split("\n") if not is_page_number_line(line)]
    book = assemble_chapters(_txt_blocks("\n".join(lines)))
    return ParsedManuscript(
        format="txt", title=book.title, author=book.author, language=None, chapters=book.chapters
    )


def _without_gutenberg_boilerplate(text: str) -> str:
    start = _GUTENBERG_START.search(text)
    if start:
        text = text[start.end() :]
    end = _GUTENBERG_END.search(text)
    return text[: end.start()] if end else text


def _txt_blocks(text: str) -> Iterator[Block]:
    chunks = _BLANK_LINES.split(text)
    if len(chunks) == 1:
        chunks = text.split("\n")  # no blank lines anywhere: one paragraph per line
    for chunk in chunks:
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        if lines:
            yield from _blocks_of_chunk(lines)


def _blocks_of_chunk(lines: list[str]) -> Iterator[Block]:
    if is_scene_break(" ".join(lines)):
        yield SceneBreak()
        return
    if not is_chapter_heading(lines[0]):
        yield TextBlock(join_wrapped_lines(lines))
        return
    if all(is_chapter_heading(line) for line in lines):
        yield from (HeadingBlock(line) for line in lines)  # a contents list, or heading + label
        return
    if len(lines) == 2 and is_title_like(lines[1]):
        yield HeadingBlock(heading_with_subtitle(lines[0], lines[1]))
        return
    yield HeadingBlock(lines[0])
    yield TextBlock(join_wrapped_lines(lines[1:]))


def heading_with_subtitle(heading: str, subtitle: str) -> str:
    """ "CHAPTER I." + "Down the Rabbit-Hole" -> "CHAPTER I. Down the Rabbit-Hole"."""
    separator = " " if heading.rstrip().endswith((".", ":", "—", "–", "-")) else ": "
    return f"{heading.rstrip()}{separator}{subtitle.strip()}"


def join_wrapped_lines(lines: list[str]) -> str:
    """Join hard-wrapped lines; a line ending in "letter-" continues the word on the next line."""
    parts: list[str] = []
    for line in lines:
        if parts and re.search(r"[^\W\d_]-$", parts[-1]) and line[:1].islower():
            parts[-1] += line
        else:
            parts.append(line)
    return " ".join(parts)
