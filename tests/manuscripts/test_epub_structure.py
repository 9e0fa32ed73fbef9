"""EPUB structure beyond the corpus: EPUB 2 NCX and guide, split documents, notes, page numbers."""

from __future__ import annotations

import io
import zipfile

from khipu.manuscripts.document import Paragraph, ParsedChapter
from khipu.manuscripts.parsing import parse_manuscript
from tests.manuscripts.builders import EpubDocument, build_epub, replace_members, xhtml_document

XHTML11_DOCTYPE = (
    '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" '
    '"http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml">'
)


def epub2_document(body: str, *, title: str = "") -> str:
    return f"{XHTML11_DOCTYPE}<head><title>{title}</title></head><body>{body}</body></html>"


def test_epub2_takes_titles_from_the_ncx_and_matter_from_the_guide_and_file_names() -> None:
    data = build_epub(
        [
            EpubDocument(
                "cover.xhtml",
                epub2_document('<div><img src="c.jpg" alt="Cover"/></div>'),
                linear=False,
            ),
            EpubDocument("title.xhtml", epub2_document("<h1>The Salt Road</h1><p>A novel</p>")),
            EpubDocument(
                "ch01.xhtml",
                epub2_document("<h1>Chapter One</h1><p>It&rsquo;s late,&nbsp;she said.</p>"),
                toc_title="Chapter 1",
            ),
            EpubDocument(
                "ch02.xhtml",
                epub2_document("<h1>Chapter Two</h1><p>Dawn.</p>"),
                toc_title="Chapter 2",
            ),
            EpubDocument(
                "notes.xhtml", epub2_document("<h1>Notes</h1><p>1. A note.</p>"), toc_title="Notes"
            ),
        ],
        version=2,
        guide=[("cover", "cover.xhtml"), ("title-page", "title.xhtml")],
    )
    book = parse_manuscript(data)
    assert [(c.title, c.kind) for c in book.chapters] == [
        ("Cover", "front_matter"),  # named from the guide: the page is only an image
        ("The Salt Road", "front_matter"),
        ("Chapter 1", "chapter"),
        ("Chapter 2", "chapter"),
        ("Notes", "back_matter"),
    ]
    # HTML named entities of EPUB 2 are understood; "Chapter One" under "Chapter 1" is not
    # read twice.
    assert book.chapters[0].paragraphs == ()
    assert book.chapters[2].paragraphs == (Paragraph("It’s late, she said."),)
    assert (book.title, book.author, book.language) == ("Test Book", "A. Writer", "en-US")


def test_a_document_holding_several_chapters_is_split_at_its_headings() -> None:
    body = (
        "<section><h2>Chapter 1</h2><p>First.</p><h3>A scene title</h3><p>More.</p></section>"
        "<section><h2>Chapter 2</h2><p>Second.</p></section>"
    )
    data = build_epub([EpubDocument("all.xhtml", xhtml_document(body), toc_title="Story")])
    chapters = parse_manuscript(data).chapters
    assert chapters == (
        ParsedChapter(
            "Story",
            "chapter",
            (
                Paragraph("Chapter 1"),
                Paragraph("First."),
                Paragraph("A scene title"),
                Paragraph("More."),
            ),
        ),
        ParsedChapter("Chapter 2", "chapter", (Paragraph("Second."),)),
    )


def test_nav_entries_pointing_into_a_document_split_it_and_name_the_parts() -> None:
    body = (
        '<div id="p1"><p class="title">ONE</p><p>Alpha.</p></div>'
        '<div id="p2"><p class="title">TWO</p><p>Beta.</p></div>'
    )
    data = build_epub(
        [EpubDocument("book.xhtml", xhtml_document(body))],
        extra_toc=[("book.xhtml#p1", "The First"), ("book.xhtml#p2", "The Second")],
    )
    chapters = parse_manuscript(data).chapters
    assert [(c.title, [p.text for p in c.paragraphs]) for c in chapters] == [
        ("The First", ["ONE", "Alpha."]),
        ("The Second", ["TWO", "Beta."]),
    ]


def test_footnote_references_page_numbers_and_note_bodies_are_not_read() -> None:
    body = (
        "<section epub:type='chapter'><h2>I</h2>"
        '<p>The river<a href="#n1" epub:type="noteref">1</a> rose'
        '<span epub:type="pagebreak" id="page7" title="7">7</span> at night<sup>2</sup>.</p>'
        '<p>She saw the <a href="https://example.org">bridge</a>.</p>'
        '<aside epub:type="footnote" id="n1"><p>Rivers rise.</p></aside></section>'
    )
    data = build_epub([EpubDocument("c1.xhtml", xhtml_document(body), toc_title="I")])
    chapter = parse_manuscript(data).chapters[0]
    assert [p.text for p in chapter.paragraphs] == [
        "The river rose at night.",
        "She saw the bridge.",
    ]


def test_a_spine_document_without_heading_or_toc_entry_continues_the_previous_chapter() -> None:
    data = build_epub(
        [
            EpubDocument(
                "split_000.xhtml",
                xhtml_document("<h1>Chapter 1</h1><p>Start.</p>"),
                toc_title="Chapter 1",
            ),
            EpubDocument("split_001.xhtml", xhtml_document("<p>Continued.</p>")),
        ]
    )
    chapters = parse_manuscript(data).chapters
    assert chapters == (
        ParsedChapter("Chapter 1", "chapter", (Paragraph("Start."), Paragraph("Continued."))),
    )


def test_epub3_semantics_classify_front_and_back_matter() -> None:
    def section(kind: str, text: str, body_type: str) -> str:
        return xhtml_document(
            f'<section epub:type="{kind}"><p>{text}</p></section>', body_type=body_type
        )

    data = build_epub(
        [
            EpubDocument("d.xhtml", section("dedication", "For R.", "frontmatter"), "Dedication"),
            EpubDocument(
                "e.xhtml", section("epigraph", "Salt is patient.", "frontmatter"), "Epigraph"
            ),
            EpubDocument("p.xhtml", section("preface", "Why I wrote.", "frontmatter"), "Preface"),
            EpubDocument("c.xhtml", section("chapter", "Once.", "bodymatter"), "One"),
            EpubDocument(
                "a.xhtml", section("acknowledgments", "Thanks.", "backmatter"), "Acknowledgments"
            ),
        ]
    )
    kinds = [(c.title, c.kind) for c in parse_manuscript(data).chapters]
    assert kinds == [
        ("Dedication", "front_matter"),
        ("Epigraph", "front_matter"),
        ("Preface", "chapter"),  # read in audiobooks, so included by default
        ("One", "chapter"),
        ("Acknowledgments", "back_matter"),
    ]


def test_lists_tables_and_ornaments_become_paragraphs_and_scene_breaks() -> None:
    body = (
        "<h1>Ledger</h1><ol><li>Salt</li><li>Rope</li></ol><ul><li>Nails</li></ul>"
        "<table><tr><th>Item</th><th>Cost</th></tr><tr><td>Salt</td><td>3 pence</td></tr></table>"
        "<p>Before.</p><p class='center'>* * *</p><p>After.</p><hr/><p>Later.</p>"
    )
    data = build_epub([EpubDocument("l.xhtml", xhtml_document(body), toc_title="Ledger")])
    chapter = parse_manuscript(data).chapters[0]
    assert chapter.paragraphs == (
        Paragraph("1. Salt"),
        Paragraph("2. Rope"),
        Paragraph("Nails"),
        Paragraph("Item, Cost"),
        Paragraph("Salt, 3 pence"),
        Paragraph("Before."),
        Paragraph("After.", scene_break_before=True),
        Paragraph("Later.", scene_break_before=True),
    )


def test_a_chapter_without_toc_entry_or_heading_is_named_by_its_document_title() -> None:
    data = build_epub(
        [EpubDocument("x.xhtml", xhtml_document("<p>Only text.</p>", title="The Well"))]
    )
    assert parse_manuscript(data).chapters == (
        ParsedChapter("The Well", "chapter", (Paragraph("Only text."),)),
    )


def test_a_heading_saying_more_than_its_toc_entry_keeps_the_rest_as_text() -> None:
    body = "<section epub:type='chapter'><h2>IV: The Ball</h2><p>Music.</p></section>"
    data = build_epub([EpubDocument("c4.xhtml", xhtml_document(body), toc_title="IV")])
    assert parse_manuscript(data).chapters == (
        ParsedChapter("IV", "chapter", (Paragraph("The Ball"), Paragraph("Music."))),
    )


def test_a_table_of_contents_in_the_spine_is_front_matter_without_text() -> None:
    chapter = EpubDocument("c.xhtml", xhtml_document("<h1>One</h1><p>Text.</p>"), toc_title="One")
    data = build_epub([chapter])
    with_nav_in_spine = replace_members(
        data,
        {
            "OEBPS/content.opf": zipfile.ZipFile(io.BytesIO(data))
            .read("OEBPS/content.opf")
            .replace(b'<itemref idref="d0"', b'<itemref idref="nav"/><itemref idref="d0"')
        },
    )
    assert parse_manuscript(with_nav_in_spine).chapters == (
        ParsedChapter("Contents", "front_matter", ()),
        ParsedChapter("One", "chapter", (Paragraph("Text."),)),
    )
