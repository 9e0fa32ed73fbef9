"""Manuscript parsing: bytes of a DOCX, EPUB, TXT or Markdown upload -> a `ParsedManuscript`."""

from __future__ import annotations

from khipu.manuscripts.document import ImportLimits, ManuscriptFormat, ParsedManuscript
from khipu.manuscripts.errors import EmptyManuscript, ManuscriptTooLarge
from khipu.manuscripts.parsing.detect import detect_format
from khipu.manuscripts.parsing.docx import parse_docx
from khipu.manuscripts.parsing.epub import parse_epub
from khipu.manuscripts.parsing.markdown import parse_markdown
from khipu.manuscripts.parsing.text import parse_txt

__all__ = ["detect_format", "parse_manuscript"]

_PLAIN_TEXT: frozenset[ManuscriptFormat] = frozenset({"txt", "md"})


def parse_manuscript(
    data: bytes,
    *,
    limits: ImportLimits = ImportLimits(),
    declared_format: ManuscriptFormat | None = None,
) -> ParsedManuscript:
    """Parse an upload into chapters of normalised paragraphs.

    `declared_format` (from the file name or content type) only chooses between TXT and Markdown,
    which look alike; a declared type that contradicts the content is ignored.
    """
    if len(data) > limits.max_upload_bytes:
        raise ManuscriptTooLarge(
            f"The manuscript is {len(data)} bytes; at most {limits.max_upload_bytes} are accepted."
        )
    detected = detect_format(data)
    if detected in _PLAIN_TEXT and declared_format in _PLAIN_TEXT:
        detected = declared_format
    if detected == "epub":
        manuscript = parse_epub(data, limits=limits)
    elif detected == "docx":
        manuscript = parse_docx(data, limits=limits)
    elif detected == "md":
        manuscript = parse_markdown(data)
    else:
        manuscript = parse_txt(data)
    if not any(chapter.paragraphs for chapter in manuscript.chapters):
        raise EmptyManuscript(
            f"No readable text was found in this {detected.upper()} manuscript "
            f"({len(manuscript.chapters)} sections, all without text)."
        )
    return manuscript
