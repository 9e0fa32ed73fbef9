"""Plain-text and Markdown manuscripts: decoding, headings, paragraphs and markup."""

from __future__ import annotations

import pytest

from khipu.manuscripts.document import Paragraph, ParsedChapter
from khipu.manuscripts.errors import InvalidTextEncoding
from khipu.manuscripts.parsing import detect_format, parse_manuscript
from khipu.manuscripts.parsing.headings import is_chapter_heading
from khipu.manuscripts.segmentation import SegmentDraft, segment_chapter

TXT = """\
The Lighthouse Keeper

by Ada Quill

Contents

Chapter 1
Chapter 2

Chapter 1

The wind came in "hard" off the sea... It was the
keeper's third winter -- and his last. Dr. Hale said
so.

12

* * *

'Tis cold, she said[1].

Chapter 2

"Will you stay?" asked Mr. J. K. Marsh. "I must."
"""

MARKDOWN = """\
---
title: Sea Book
author: Ada Quill
lang: en-GB
---

# Sea Book

Some *front* text.

## Chapter One

A [link](http://example.org) and **bold** and `code`.[^1]

- first item
- second
  item

1. step one
2. step two

| Name | Age |
|------|-----|
| Ann  | 30  |

***

> Quoted text.

### A Sub Heading

Text after sub.

![a map](map.png)

[^1]: The footnote text.

## Chapter Two

Final snake_case_word and _emphasis_ \\_not emphasis\\_.
"""


def test_txt_fixture_chapters_are_exact() -> None:
    book = parse_manuscript(TXT.encode())
    assert (book.format, book.title, book.author, book.language) == (
        "txt",
        "The Lighthouse Keeper",
        "Ada Quill",
        None,
    )
    assert book.chapters == (
        ParsedChapter("The Lighthouse Keeper", "front_matter", (Paragraph("by Ada Quill"),)),
        ParsedChapter("Contents", "front_matter", ()),  # its heading lines were dropped
        ParsedChapter(
            "Chapter 1",
            "chapter",
            (
                Paragraph(
                    "The wind came in “hard” off the sea… It was the keeper’s third winter — "
                    "and his last. Dr. Hale said so."
                ),  # hard-wrapped lines joined; the page number "12" dropped
                Paragraph("’Tis cold, she said.", scene_break_before=True),
            ),
        ),
        ParsedChapter(
            "Chapter 2",
            "chapter",
            (Paragraph("“Will you stay?” asked Mr. J. K. Marsh. “I must.”"),),
        ),
    )


def test_txt_fixture_segments_are_exact() -> None:
    chapters = parse_manuscript(TXT.encode()).chapters
    assert segment_chapter(chapters[2]) == [
        SegmentDraft("Chapter One", "heading", -1, "chapter_start"),
        SegmentDraft("The wind came in", "narration", 0, "paragraph"),
        SegmentDraft("“hard”", "dialogue", 0, "clause"),
        SegmentDraft(
            "off the sea… It was the keeper’s third winter — and his last. Dr. Hale said so.",
            "narration",
            0,
            "clause",
        ),
        SegmentDraft("’Tis cold, she said.", "narration", 1, "scene"),
    ]
    assert segment_chapter(chapters[3]) == [
        SegmentDraft("Chapter Two", "heading", -1, "chapter_start"),
        SegmentDraft("“Will you stay?”", "dialogue", 0, "paragraph"),
        SegmentDraft("asked Mr. J. K. Marsh.", "narration", 0, "clause"),
        SegmentDraft("“I must.”", "dialogue", 0, "sentence"),
    ]


def test_markdown_fixture_chapters_are_exact() -> None:
    book = parse_manuscript(MARKDOWN.encode())
    assert (book.format, book.title, book.author, book.language) == (
        "md",
        "Sea Book",
        "Ada Quill",
        "en-GB",
    )
    assert book.chapters == (
        ParsedChapter("Sea Book", "front_matter", (Paragraph("Some front text."),)),
        ParsedChapter(
            "Chapter One",
            "chapter",
            (
                Paragraph("A link and bold and code."),
                Paragraph("first item"),
                Paragraph("second item"),
                Paragraph("1. step one"),
                Paragraph("2. step two"),
                Paragraph("Name, Age"),
                Paragraph("Ann, 30"),
                Paragraph("Quoted text.", scene_break_before=True),
                Paragraph("A Sub Heading"),
                Paragraph("Text after sub."),
            ),
        ),
        ParsedChapter(
            "Chapter Two",
            "chapter",
            (Paragraph("Final snake_case_word and emphasis _not emphasis_."),),
        ),
    )


def test_markdown_segments_are_exact() -> None:
    chapter = parse_manuscript(MARKDOWN.encode()).chapters[1]
    assert segment_chapter(chapter)[:3] == [
        SegmentDraft("Chapter One", "heading", -1, "chapter_start"),
        SegmentDraft("A link and bold and code.", "narration", 0, "paragraph"),
        SegmentDraft("first item", "narration", 1, "paragraph"),
    ]


def test_markdown_uses_the_highest_heading_level_when_it_repeats() -> None:
    text = "# Part One\n\nIntro.\n\n## Scene\n\nBody.\n\n# Part Two\n\nEnd.\n"
    chapters = parse_manuscript(text.encode()).chapters
    assert [(c.title, [p.text for p in c.paragraphs]) for c in chapters] == [
        ("Part One", ["Intro.", "Scene", "Body."]),
        ("Part Two", ["End."]),
    ]


def test_declared_format_chooses_between_text_and_markdown_only() -> None:
    text = b"Chapter 1\n\nA *star* here.\n"
    assert parse_manuscript(text).format == "txt"
    as_markdown = parse_manuscript(text, declared_format="md")
    assert as_markdown.format == "md"
    assert as_markdown.chapters[0].paragraphs == (Paragraph("A star here."),)
    # A claim of "docx" on a text file is ignored: the content decides.
    assert parse_manuscript(text, declared_format="docx").format == "txt"


@pytest.mark.parametrize(
    "line",
    [
        "Chapter 1",
        "CHAPTER ONE",
        "Chapter XII",
        "Chapter Twenty-One",
        "chapter twenty one",
        "XIV",
        "IV.",
        "Prologue",
        "EPILOGUE",
        "Part One",
        "Chapter the First",
        "CHAPTER I. Down the Rabbit-Hole",
        "Chapter 3: The Storm",
    ],
)
def test_chapter_like_lines_are_headings(line: str) -> None:
    assert is_chapter_heading(line)


@pytest.mark.parametrize(
    "line",
    [
        "Chapter 1 was the hardest to write.",
        "Book two was better than book one.",
        "Part of me wanted to stay.",
        "The prologue ended badly, he said.",
        "MIX",  # a valid roman numeral (1009), but a word when alone
        "12",  # in plain text a bare number is a page number
    ],
)
def test_sentences_mentioning_chapters_are_not_headings(line: str) -> None:
    assert not is_chapter_heading(line)


def test_bare_roman_numeral_heading_is_spoken_as_chapter_number() -> None:
    chapter = parse_manuscript(b"I\n\nIt began.\n\nII\n\nIt ended.\n").chapters[0]
    assert chapter.title == "I"
    assert segment_chapter(chapter)[0] == SegmentDraft(
        "Chapter One", "heading", -1, "chapter_start"
    )


def test_text_without_headings_is_one_chapter_titled_by_a_title_like_first_line() -> None:
    titled = parse_manuscript(b"Harbour Lights\n\nThe boats came in.\n\nNight fell.\n")
    assert titled.chapters == (
        ParsedChapter(
            "Harbour Lights", "chapter", (Paragraph("The boats came in."), Paragraph("Night fell."))
        ),
    )
    untitled = parse_manuscript(b"The boats came in.\n\nNight fell.\n")
    assert [c.title for c in untitled.chapters] == ["Chapter 1"]


def test_text_with_bom_and_windows_line_endings_decodes() -> None:
    data = "\ufeffChapter 1\r\n\r\nCaf\u00e9 au lait.\r\n".encode()
    assert parse_manuscript(data).chapters == (
        ParsedChapter("Chapter 1", "chapter", (Paragraph("Café au lait."),)),
    )


def test_utf16_text_with_bom_decodes() -> None:
    data = "Chapter 1\n\nNaïve.\n".encode("utf-16")
    assert parse_manuscript(data).chapters[0].paragraphs == (Paragraph("Naïve."),)


def test_text_without_blank_lines_has_one_paragraph_per_line() -> None:
    data = b"Chapter 1\nFirst line.\nSecond line.\nThird line.\n"
    assert parse_manuscript(data).chapters[0].paragraphs == (
        Paragraph("First line."),
        Paragraph("Second line."),
        Paragraph("Third line."),
    )


def test_project_gutenberg_boilerplate_is_left_out() -> None:
    data = (
        b"The Project Gutenberg eBook of Tales\n\n"
        b"*** START OF THE PROJECT GUTENBERG EBOOK TALES ***\n\n"
        b"Chapter 1\n\nOnce.\n\n"
        b"*** END OF THE PROJECT GUTENBERG EBOOK TALES ***\n\nLicense text.\n"
    )
    assert parse_manuscript(data).chapters == (
        ParsedChapter("Chapter 1", "chapter", (Paragraph("Once."),)),
    )


def test_invalid_utf8_reports_the_offset_of_the_first_bad_byte() -> None:
    data = b"Chapter 1\n\nCaf" + b"\xe9 au lait\n"
    with pytest.raises(InvalidTextEncoding) as caught:
        parse_manuscript(data)
    assert caught.value.status == 422
    assert caught.value.extra == {"byte_offset": 14}
    assert "byte offset 14" in caught.value.detail
    assert "0xe9" in caught.value.detail


def test_invalid_utf8_offset_counts_the_bom() -> None:
    data = b"\xef\xbb\xbfAbc\xff"
    with pytest.raises(InvalidTextEncoding) as caught:
        parse_manuscript(data)
    assert caught.value.extra == {"byte_offset": 6}


def test_markdown_is_recognised_by_its_marks() -> None:
    assert detect_format(b"# Title\n\nText.\n") == "md"
    assert detect_format(b"See [the map](map.png).\n") == "md"
    assert detect_format(b"Plain text.\n\n* * *\n\n- a dash line\n") == "txt"
