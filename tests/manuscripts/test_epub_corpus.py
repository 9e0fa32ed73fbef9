"""The corpus novel (Standard Ebooks' Pride and Prejudice, EPUB 3), parsed and segmented."""

from __future__ import annotations

from pathlib import Path

import pytest

from khipu.manuscripts.document import ParsedManuscript
from khipu.manuscripts.parsing import detect_format, parse_manuscript
from khipu.manuscripts.segmentation import SegmentDraft, segment_chapter

CORPUS = Path(__file__).parents[1] / "fixtures" / "pride-and-prejudice.epub"


def roman(number: int) -> str:
    digits = ((50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    text = ""
    for value, letters in digits:
        count, number = divmod(number, value)
        text += letters * count
    return text


@pytest.fixture(scope="module")
def corpus() -> ParsedManuscript:
    return parse_manuscript(CORPUS.read_bytes())


@pytest.fixture(scope="module")
def segments(corpus: ParsedManuscript) -> list[list[SegmentDraft]]:
    return [segment_chapter(chapter) for chapter in corpus.chapters]


def test_corpus_is_detected_as_epub_from_its_bytes() -> None:
    assert detect_format(CORPUS.read_bytes()) == "epub"


def test_corpus_metadata_comes_from_the_package_document(corpus: ParsedManuscript) -> None:
    assert (corpus.format, corpus.title, corpus.author, corpus.language) == (
        "epub",
        "Pride and Prejudice",
        "Jane Austen",
        "en-GB",
    )


def test_corpus_has_61_chapters_in_reading_order_with_the_books_own_titles(
    corpus: ParsedManuscript,
) -> None:
    titles = [chapter.title for chapter in corpus.chapters if chapter.kind == "chapter"]
    assert titles == [roman(number) for number in range(1, 62)]


def test_corpus_front_and_back_matter_are_kept_around_the_chapters_with_their_kinds(
    corpus: ParsedManuscript,
) -> None:
    kinds = [(chapter.title, chapter.kind) for chapter in corpus.chapters]
    assert kinds[:3] == [
        ("Titlepage", "front_matter"),
        ("Imprint", "front_matter"),
        ("I", "chapter"),
    ]
    assert kinds[-3:] == [
        ("LXI", "chapter"),
        ("Colophon", "back_matter"),
        ("Uncopyright", "back_matter"),
    ]
    assert len(kinds) == 65


def test_title_page_keeps_the_displayed_book_title_as_text(corpus: ParsedManuscript) -> None:
    title_page = corpus.chapters[0]
    assert [p.text for p in title_page.paragraphs] == ["Pride and Prejudice", "By Jane Austen."]


def test_chapter_text_is_normalised_and_the_heading_is_not_a_paragraph(
    corpus: ParsedManuscript,
) -> None:
    chapter_one = corpus.chapters[2]
    assert chapter_one.paragraphs[0].text == (
        "It is a truth universally acknowledged, that a single man in possession of a good "
        "fortune, must be in want of a wife."
    )
    assert len(chapter_one.paragraphs) == 34
    every_text = " ".join(p.text for c in corpus.chapters for p in c.paragraphs)
    assert "\u2060" not in every_text  # Standard Ebooks' word joiners before dashes are gone
    assert "  " not in every_text


def test_a_letter_inside_a_chapter_stays_in_that_chapter(corpus: ParsedManuscript) -> None:
    chapter_thirteen = next(c for c in corpus.chapters if c.title == "XIII")
    texts = [p.text for p in chapter_thirteen.paragraphs]
    assert "Hunsford, near Westerham, Kent," in texts
    assert "William Collins." in texts


def test_horizontal_rules_mark_the_next_paragraph_as_a_scene_break(
    corpus: ParsedManuscript,
) -> None:
    marked = [c.title for c in corpus.chapters for p in c.paragraphs if p.scene_break_before]
    assert marked == ["XLVII", "L", "LIV", "LVII", "LIX", "LIX"]


def test_chapter_one_starts_with_its_spoken_heading(
    segments: list[list[SegmentDraft]],
) -> None:
    assert segments[2][0] == SegmentDraft("Chapter One", "heading", -1, "chapter_start")


def test_first_quote_and_its_attribution_are_separate_segments(
    segments: list[list[SegmentDraft]],
) -> None:
    assert segments[2][3:6] == [
        SegmentDraft("“My dear Mr. Bennet,”", "dialogue", 2, "paragraph"),
        SegmentDraft("said his lady to him one day,", "narration", 2, "clause"),
        SegmentDraft(
            "“have you heard that Netherfield Park is let at last?”", "dialogue", 2, "clause"
        ),
    ]


def test_a_quotation_that_fits_is_one_segment_however_many_sentences_it_has(
    corpus: ParsedManuscript, segments: list[list[SegmentDraft]]
) -> None:
    paragraph = corpus.chapters[2].paragraphs[9].text
    assert paragraph.startswith("“Why, my dear, you must know,")
    assert [s for s in segments[2] if s.paragraph == 9] == [
        SegmentDraft(paragraph, "dialogue", 9, "paragraph")
    ]


def test_no_corpus_segment_is_empty_unstripped_or_over_1000_characters(
    segments: list[list[SegmentDraft]],
) -> None:
    every = [segment for chapter in segments for segment in chapter]
    assert len(every) > 4000
    assert all(0 < len(s.text) <= 1000 for s in every)
    assert all(s.text == s.text.strip() for s in every)


def test_mr_and_mrs_never_end_a_corpus_segment(segments: list[list[SegmentDraft]]) -> None:
    endings = [s.text for chapter in segments for s in chapter if s.text.endswith(("Mr.", "Mrs."))]
    assert endings == []
