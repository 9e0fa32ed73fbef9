"""Word (DOCX) manuscripts: heading styles and chapter-like lines make chapters.

The archive and every XML part are vetted before python-docx (which parses with huge_tree=True)
sees them. Lists keep their numbers, table rows become paragraphs, footnote references, hidden
text, tracked deletions, images and the Word table of contents are left out.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import docx
from docx.document import Document as WordDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from docx.styles.style import ParagraphStyle
from lxml import etree

from khipu.manuscripts.document import ImportLimits, ParsedManuscript
from khipu.manuscripts.errors import CorruptManuscript, UnsupportedManuscriptType
from khipu.manuscripts.parsing.archive import SafeArchive
from khipu.manuscripts.parsing.headings import (
    MAX_TITLE_CHARS,
    chapter_heading_level,
    int_to_words,
    is_chapter_heading,
    is_scene_break,
)
from khipu.manuscripts.parsing.safe_xml import check_xml_safety
from khipu.manuscripts.parsing.sections import (
    Block,
    HeadingBlock,
    SceneBreak,
    TextBlock,
    assemble_chapters,
    join_cells,
)

_XML_PARTS = (".xml", ".rels", ".vml")
_TITLE_LEVEL = 0  # the "Title" style sits above "Heading 1"
_SKIPPED_TAGS = frozenset(
    qn(tag)
    for tag in ("w:del", "w:moveFrom", "w:drawing", "w:pict", "w:object", "w:rPr", "w:pPr",
                "w:instrText", "w:delInstrText", "w:footnoteReference", "w:endnoteReference",
                "w:commentReference", "w:sdtPr")
) | {"{http://schemas.openxmlformats.org/markup-compatibility/2006}AlternateContent"}  # fmt: skip
_MARKER_TEXT = re.compile(r"\[?\(?(?:\d{1,3}|[*†‡§¶]{1,3}|[a-z])\)?\]?")
_ROMAN_FORMATS = {"upperRoman", "lowerRoman"}
_ROMAN_DIGITS = (
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _ParagraphStyle:
    names: tuple[str, ...]  # the style and its bases, lower-case ("heading 1", "normal")
    outline_level: int | None  # 0-based, Word's "outline level"; 9 means body text
    numbering: tuple[str, int] | None  # (numId, ilvl)
    centred: bool


@dataclass(frozen=True, slots=True)
class _Line:
    """One paragraph or table row of the document, before chapters are formed."""

    text: str
    level: int | None = None  # heading level; None for body text
    chapter_like: bool = False  # "Chapter 3" typed in body style: a chapter whatever the styles
    scene_break: bool = False


def parse_docx(data: bytes, *, limits: ImportLimits) -> ParsedManuscript:
    archive = SafeArchive(data, limits=limits, label="DOCX")
    _vet_parts(archive)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, etree.XMLSyntaxError) as error:
        raise CorruptManuscript(
            f"This Word document cannot be opened ({error}). Save it again as .docx and re-upload."
        ) from None
    reader = _DocumentReader(document)
    lines = list(reader.lines())
    book = assemble_chapters(_blocks(lines))
    properties = document.core_properties
    return ParsedManuscript(
        format="docx",
        title=(properties.title or "").strip() or book.title,
        author=(properties.author or "").strip() or book.author,
        language=(properties.language or "").strip() or reader.default_language(),
        chapters=book.chapters,
    )


def _vet_parts(archive: SafeArchive) -> None:
    if "word/document.xml" not in archive:
        raise UnsupportedManuscriptType(
            "The ZIP archive is not a Word document (it has no word/document.xml)."
        )
    for name in archive.names:
        if archive.is_encrypted(name):
            raise CorruptManuscript(
                "This Word document is password-protected; remove the password and re-upload."
            )
        if name.lower().endswith(_XML_PARTS) or name == "[Content_Types].xml":
            check_xml_safety(archive.read(name), part=name, allow_doctype=False)


def _blocks(lines: list[_Line]) -> Iterator[Block]:
    levels = [line.level for line in lines if line.level is not None]
    chapter_level = chapter_heading_level(levels) if levels else _TITLE_LEVEL
    first_level = levels[0] if levels else None
    book_title_pending = first_level is not None and first_level < chapter_level
    for line in lines:
        if line.scene_break:
            yield SceneBreak()
        elif line.level is not None and line.level <= chapter_level:
            yield HeadingBlock(line.text, book_title=book_title_pending)
            book_title_pending = False
        elif line.chapter_like:
            yield HeadingBlock(line.text)
        else:
            yield TextBlock(line.text)  # body text, and sub-headings read as text


class _DocumentReader:
    """Walks the document body in order: paragraphs, tables, content controls."""

    def __init__(self, document: WordDocument) -> None:
        self._document = document
        self._styles = {s.style_id: s for s in document.styles if isinstance(s, ParagraphStyle)}
        default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
        self._default_style = default if isinstance(default, ParagraphStyle) else None
        self._style_cache: dict[str | None, _ParagraphStyle] = {}
        self._numbering = _Numbering(document)

    def default_language(self) -> str | None:
        element = self._document.styles.element
        path = "/".join(qn(tag) for tag in ("w:docDefaults", "w:rPrDefault", "w:rPr", "w:lang"))
        lang = element.find(path)
        value = lang.get(qn("w:val")) if lang is not None else None
        return value or None

    def lines(self) -> Iterator[_Line]:
        yield from self._container_lines(self._document.element.body)

    def _container_lines(self, container: etree._Element) -> Iterator[_Line]:
        for child in container:
            if child.tag == qn("w:p"):
                line = self._paragraph_line(child)
                if line is not None:
                    yield line
            elif child.tag == qn("w:tbl"):
                yield from _table_lines(child)
            elif child.tag == qn("w:sdt") and not _is_table_of_contents(child):
                content = child.find(qn("w:sdtContent"))
                if content is not None:
                    yield from self._container_lines(content)

    def _paragraph_line(self, paragraph: etree._Element) -> _Line | None:
        style = self._paragraph_style(paragraph)
        if any(name.startswith("toc ") for name in style.names):
            return None  # a line of Word's generated table of contents
        text = " ".join(paragraph_text(paragraph).split())
        if not text:
            return None
        if is_scene_break(text) or (style.centred and not any(c.isalnum() for c in text)):
            return _Line(text, scene_break=True)
        level = _heading_level(style)
        if level is not None and len(text) <= MAX_TITLE_CHARS:
            return _Line(text, level=level)
        if "toc heading" in style.names:
            return _Line(text, chapter_like=True)
        if style.numbering is not None:
            return _Line(self._numbering.prefix(*style.numbering) + text)
        return _Line(text, chapter_like=is_chapter_heading(text))

    def _paragraph_style(self, paragraph: etree._Element) -> _ParagraphStyle:
        properties = paragraph.find(qn("w:pPr"))
        style_id = None
        if properties is not None and properties.find(qn("w:pStyle")) is not None:
            style_id = properties.find(qn("w:pStyle")).get(qn("w:val"))
        if style_id not in self._style_cache:
            self._style_cache[style_id] = self._resolve_style(style_id)
        inherited = self._style_cache[style_id]
        if properties is None:
            return inherited
        outline = _outline_level(properties)
        numbering = _numbering_reference(properties)
        centred = _alignment(properties)
        return _ParagraphStyle(
            names=inherited.names,
            outline_level=inherited.outline_level if outline is None else outline,
            numbering=inherited.numbering if numbering is None else numbering,
            centred=inherited.centred if centred is None else centred,
        )

    def _resolve_style(self, style_id: str | None) -> _ParagraphStyle:
        style: ParagraphStyle | None = self._styles.get(style_id) if style_id else None
        style = style or self._default_style
        names: list[str] = []
        outline: int | None = None
        numbering: tuple[str, int] | None = None
        centred: bool | None = None
        seen: set[str] = set()
        while style is not None and style.style_id not in seen:
            seen.add(style.style_id)
            names.append((style.name or "").lower())
            properties = style.element.find(qn("w:pPr"))
            if properties is not None:
                outline = outline if outline is not None else _outline_level(properties)
                numbering = numbering or _numbering_reference(properties)
                centred = centred if centred is not None else _alignment(properties)
            style = style.base_style
        return _ParagraphStyle(tuple(names), outline, numbering, bool(centred))


def _heading_level(style: _ParagraphStyle) -> int | None:
    for name in style.names:
        if name == "title":
            return _TITLE_LEVEL
        match = re.fullmatch(r"heading (\d)", name)
        if match:
            return int(match.group(1))
        if name in ("toc heading", "subtitle"):
            return None
    if style.outline_level is not None and 0 <= style.outline_level < 9:
        return style.outline_level + 1
    return None


def _outline_level(properties: etree._Element) -> int | None:
    element = properties.find(qn("w:outlineLvl"))
    value = element.get(qn("w:val")) if element is not None else None
    return int(value) if value is not None and value.isdigit() else None


def _numbering_reference(properties: etree._Element) -> tuple[str, int] | None:
    reference = properties.find(qn("w:numPr"))
    if reference is None:
        return None
    num_id = reference.find(qn("w:numId"))
    level = reference.find(qn("w:ilvl"))
    num_value = num_id.get(qn("w:val")) if num_id is not None else None
    level_value = level.get(qn("w:val"), "0") if level is not None else "0"
    if not num_value or num_value == "0":
        return None
    return num_value, int(level_value) if level_value.isdigit() else 0


def _alignment(properties: etree._Element) -> bool | None:
    element = properties.find(qn("w:jc"))
    return element.get(qn("w:val")) == "center" if element is not None else None


def _is_table_of_contents(sdt: etree._Element) -> bool:
    gallery = sdt.find(f"{qn('w:sdtPr')}/{qn('w:docPartObj')}/{qn('w:docPartGallery')}")
    return gallery is not None and "contents" in (gallery.get(qn("w:val")) or "").lower()


def paragraph_text(paragraph: etree._Element) -> str:
    """Visible text of a paragraph without footnote references, deletions, hidden text, images."""
    parts: list[str] = []
    _collect_text(paragraph, parts)
    return "".join(parts)


def _collect_text(element: etree._Element, parts: list[str]) -> None:
    tag = element.tag
    if tag in _SKIPPED_TAGS:
        return
    if tag == qn("w:r") and _is_hidden_run(element):
        return
    if tag == qn("w:t"):
        parts.append(element.text or "")
    elif tag in (qn("w:tab"), qn("w:br"), qn("w:cr")):
        parts.append(" ")
    elif tag == qn("w:noBreakHyphen"):
        parts.append("-")
    for child in element:
        _collect_text(child, parts)


def _is_hidden_run(run: etree._Element) -> bool:
    """Hidden text, a footnote/endnote reference, or a hand-made superscript footnote number."""
    if run.find(qn("w:footnoteReference")) is not None:
        return True
    if run.find(qn("w:endnoteReference")) is not None:
        return True
    properties = run.find(qn("w:rPr"))
    if properties is None:
        return False
    if properties.find(qn("w:vanish")) is not None:
        return True
    alignment = properties.find(qn("w:vertAlign"))
    if alignment is not None and alignment.get(qn("w:val")) == "superscript":
        text = "".join(t.text or "" for t in run.iter(qn("w:t"))).strip()
        return bool(_MARKER_TEXT.fullmatch(text))
    return False


def _table_lines(table: etree._Element) -> Iterator[_Line]:
    """Each row read as one paragraph, its cells in order (merged cells read once)."""
    for row in table.iterfind(qn("w:tr")):
        cells = []
        for cell in row.iterfind(qn("w:tc")):
            texts = (" ".join(paragraph_text(p).split()) for p in cell.iter(qn("w:p")))
            cells.append(" ".join(t for t in texts if t))
        text = join_cells(cells)
        if text:
            yield _Line(text)


class _Numbering:
    """Word's list numbering: the number or letter a reader sees before a list item."""

    def __init__(self, document: WordDocument) -> None:
        self._formats: dict[tuple[str, int], tuple[str, str, int]] = {}
        self._counters: dict[str, list[int]] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError):
            return
        abstract = {
            element.get(qn("w:abstractNumId")): element
            for element in root.iterfind(qn("w:abstractNum"))
        }
        for num in root.iterfind(qn("w:num")):
            reference = num.find(qn("w:abstractNumId"))
            definition = abstract.get(reference.get(qn("w:val")) if reference is not None else None)
            if definition is None:
                continue
            for level in definition.iterfind(qn("w:lvl")):
                self._formats[(num.get(qn("w:numId")), int(level.get(qn("w:ilvl"), "0")))] = (
                    _child_value(level, "w:numFmt", "decimal"),
                    _child_value(level, "w:lvlText", "%1."),
                    int(_child_value(level, "w:start", "1")),
                )

    def prefix(self, num_id: str, level: int) -> str:
        """ "3. " for the third item of a numbered list, "" for a bullet."""
        number_format, text, _ = self._formats.get((num_id, level), ("bullet", "", 1))
        counters = self._counters.setdefault(num_id, [])
        while len(counters) <= level:
            counters.append(0)
        counters[level] += 1
        del counters[level + 1 :]
        if number_format in ("bullet", "none"):
            return ""
        for depth, count in enumerate(counters):
            depth_format, _text, depth_start = self._formats.get(
                (num_id, depth), (number_format, "", 1)
            )
            shown = _format_number(count + depth_start - 1, depth_format)
            text = text.replace(f"%{depth + 1}", shown)
        return f"{text.strip()} " if text.strip() else ""


def _child_value(element: etree._Element, tag: str, default: str) -> str:
    child = element.find(qn(tag))
    value = child.get(qn("w:val")) if child is not None else None
    return value if value is not None else default


def _format_number(number: int, number_format: str) -> str:
    if number_format == "lowerLetter":
        return chr(ord("a") + (number - 1) % 26)
    if number_format == "upperLetter":
        return chr(ord("A") + (number - 1) % 26)
    if number_format in _ROMAN_FORMATS:
        roman = _to_roman(number)
        return roman if number_format == "upperRoman" else roman.lower()
    if number_format in ("cardinalText", "ordinalText"):
        return int_to_words(number)
    return str(number)


def _to_roman(number: int) -> str:
    digits = []
    for value, letters in _ROMAN_DIGITS:
        count, number = divmod(number, value)
        digits.append(letters * count)
    return "".join(digits)
