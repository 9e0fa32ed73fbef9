"""Word manuscripts generated with python-docx: headings, lists, tables, notes, breaks, images."""

from __future__ import annotations

import io

import docx
import pytest

from khipu.manuscripts.document import Paragraph, ParsedChapter, ParsedManuscript
from khipu.manuscripts.errors import CorruptManuscript, UnsafeXml, ZipBombSuspected
from khipu.manuscripts.parsing import detect_format, parse_manuscript
from khipu.manuscripts.segmentation import SegmentDraft, segment_chapter
from tests.manuscripts.builders import build_docx, replace_members, with_declared_size


@pytest.fixture(scope="module")
def manuscript() -> ParsedManuscript:
    return parse_manuscript(build_docx())


def docx_bytes(*paragraphs: tuple[str, str | None]) -> bytes:
    document = docx.Document()
    for text, style in paragraphs:
        document.add_paragraph(text, style=style)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_is_detected_by_its_zip_members() -> None:
    assert detect_format(build_docx()) == "docx"


def test_docx_metadata_comes_from_core_properties(manuscript: ParsedManuscript) -> None:
    assert (manuscript.format, manuscript.title, manuscript.author, manuscript.language) == (
        "docx",
        "The Glass Orchard",
        "Mira Holt",
        "en-GB",
    )


def test_docx_chapters_come_from_title_heading_styles_and_chapter_lines(
    manuscript: ParsedManuscript,
) -> None:
    assert [(c.title, c.kind) for c in manuscript.chapters] == [
        ("The Glass Orchard", "front_matter"),  # the Title-styled book title over Heading 1s
        ("Chapter 1", "chapter"),
        ("Chapter 2", "chapter"),
        ("CHAPTER THREE", "chapter"),  # a chapter line typed in body style
    ]
    assert manuscript.chapters[0].paragraphs == (Paragraph("by Mira Holt"),)


def test_docx_lists_tables_footnotes_images_and_scene_breaks(
    manuscript: ParsedManuscript,
) -> None:
    assert manuscript.chapters[1] == ParsedChapter(
        "Chapter 1",
        "chapter",
        (
            Paragraph("“Are the trees ready?” asked Mr. Vale. Nobody answered."),  # no footnote
            Paragraph("Pack these:"),
            Paragraph("Shears"),  # bullets are not read
            Paragraph("Twine"),
            Paragraph("1. Open the gate"),  # numbers are
            Paragraph("2. Count the rows"),
            Paragraph("Row, Trees"),  # a table row, cell by cell
            Paragraph("North, 12"),
            Paragraph("Morning came — grey and wet.", scene_break_before=True),  # after * * *
        ),
    )


def test_docx_centred_ornament_is_a_scene_break_and_subheadings_stay_text(
    manuscript: ParsedManuscript,
) -> None:
    assert manuscript.chapters[2].paragraphs == (
        Paragraph("She walked the rows…"),
        Paragraph("At dusk the glass rang.", scene_break_before=True),
        Paragraph("The Lower Field"),
        Paragraph("It was quiet there."),
    )


def test_docx_segments_are_exact(manuscript: ParsedManuscript) -> None:
    assert segment_chapter(manuscript.chapters[1])[:4] == [
        SegmentDraft("Chapter One", "heading", -1, "chapter_start"),
        SegmentDraft("“Are the trees ready?”", "dialogue", 0, "paragraph"),
        SegmentDraft("asked Mr. Vale. Nobody answered.", "narration", 0, "clause"),
        SegmentDraft("Pack these:", "narration", 1, "paragraph"),
    ]
    assert segment_chapter(manuscript.chapters[3]) == [
        SegmentDraft("Chapter Three", "heading", -1, "chapter_start"),
        SegmentDraft("The end of the orchard.", "narration", 0, "paragraph"),
    ]


def test_docx_without_headings_is_one_chapter_titled_by_its_title_line() -> None:
    data = docx_bytes(
        ("Winter Notes", None), ("Snow fell all week.", None), ("Then it stopped.", None)
    )
    assert parse_manuscript(data).chapters == (
        ParsedChapter(
            "Winter Notes",
            "chapter",
            (Paragraph("Snow fell all week."), Paragraph("Then it stopped.")),
        ),
    )


def test_docx_substantial_text_before_the_first_heading_is_a_chapter() -> None:
    opening = " ".join(["The tide turned slowly."] * 40)
    data = docx_bytes((opening, None), ("Chapter 1", "Heading 1"), ("Morning.", None))
    assert [(c.title, c.kind) for c in parse_manuscript(data).chapters] == [
        ("Opening", "chapter"),
        ("Chapter 1", "chapter"),
    ]


def test_docx_with_a_dtd_in_a_part_is_refused_before_python_docx_parses_it() -> None:
    original = build_docx()
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><w:document/>'
    )
    with pytest.raises(UnsafeXml) as caught:
        parse_manuscript(replace_members(original, {"word/document.xml": bomb}))
    assert "word/document.xml" in caught.value.detail


def test_docx_whose_document_part_is_not_xml_is_corrupt() -> None:
    damaged = replace_members(build_docx(), {"word/document.xml": b"<w:document><w:body>"})
    with pytest.raises(CorruptManuscript):
        parse_manuscript(damaged)


def test_docx_member_declaring_a_gigabyte_is_refused_before_reading() -> None:
    bomb = with_declared_size(build_docx(), "word/styles.xml", 1024**3)
    with pytest.raises(ZipBombSuspected) as caught:
        parse_manuscript(bomb)
    assert "word/styles.xml" in caught.value.detail
