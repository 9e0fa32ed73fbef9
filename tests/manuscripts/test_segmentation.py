"""Segmentation: spoken headings, sentences, dialogue versus narration, sizes and boundaries."""

from __future__ import annotations

import pytest

from khipu.manuscripts.document import Paragraph, ParsedChapter
from khipu.manuscripts.normalize import normalize_text
from khipu.manuscripts.segmentation import (
    MERGE_CHARS,
    SegmentDraft,
    count_words,
    dialogue_convention,
    segment_chapter,
    split_sentences,
    spoken_heading,
)


def segments_of(*paragraphs: str | Paragraph, max_chars: int = 1000) -> list[SegmentDraft]:
    body = tuple(p if isinstance(p, Paragraph) else Paragraph(p) for p in paragraphs)
    return segment_chapter(ParsedChapter("I", "chapter", body), max_chars=max_chars)[1:]


def texts_and_kinds(segments: list[SegmentDraft]) -> list[tuple[str, str]]:
    return [(s.text, s.kind) for s in segments]


@pytest.mark.parametrize(
    ("title", "spoken"),
    [
        ("I", "Chapter One"),
        ("LXI", "Chapter Sixty-One"),
        ("CHAPTER XII", "Chapter Twelve"),
        ("Chapter 3", "Chapter Three"),
        ("Chapter 21", "Chapter Twenty-One"),
        ("Chapter 101", "Chapter One Hundred and One"),
        ("Chapter Twenty-One", "Chapter Twenty-One"),
        ("CHAPTER I. Down the Rabbit-Hole", "Chapter One: Down the Rabbit-Hole"),
        ("PART TWO", "Part Two"),
        ("Book III", "Book Three"),
        ("12", "Chapter Twelve"),
        ("Preface", "Preface"),
        ("PROLOGUE", "Prologue"),
        ("Chapter the First", "Chapter the First"),
        ("The Ball at Netherfield", "The Ball at Netherfield"),
    ],
)
def test_spoken_heading(title: str, spoken: str) -> None:
    assert spoken_heading(title) == spoken


def test_the_heading_comes_first_and_the_chapter_keeps_the_books_title() -> None:
    chapter = ParsedChapter("XII", "chapter", (Paragraph("Text."),))
    assert segment_chapter(chapter) == [
        SegmentDraft("Chapter Twelve", "heading", -1, "chapter_start"),
        SegmentDraft("Text.", "narration", 0, "paragraph"),
    ]
    assert chapter.title == "XII"


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Mr. Smith met Dr. Jones. They spoke.", ["Mr. Smith met Dr. Jones.", "They spoke."]),
        ("Mrs. Long and Ms. Ray saw St. Paul’s.", ["Mrs. Long and Ms. Ray saw St. Paul’s."]),
        ("Ask Prof. Lee or Sam Jr. Today.", ["Ask Prof. Lee or Sam Jr. Today."]),
        ("J. K. Rowling wrote it. It sold.", ["J. K. Rowling wrote it.", "It sold."]),
        ("Fruit, e.g. apples, i.e. food.", ["Fruit, e.g. apples, i.e. food."]),
        ("Bring pens, paper, etc. and ink.", ["Bring pens, paper, etc. and ink."]),
        ("Bring pens, paper, etc. Then go.", ["Bring pens, paper, etc.", "Then go."]),
        ("See No. 5 here.", ["See No. 5 here."]),
        ("“Oh! single, my dear.” She left.", ["“Oh! single, my dear.”", "She left."]),
        ("Is it? Yes! Fine… Go.", ["Is it?", "Yes!", "Fine…", "Go."]),
        ("Wait… and see.", ["Wait… and see."]),
    ],
)
def test_sentence_splitting(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_quote_attribution_and_continued_quote_are_three_segments() -> None:
    segments = segments_of(
        "“Quote,” said his lady to him one day, “have you heard?”",
    )
    assert segments == [
        SegmentDraft("“Quote,”", "dialogue", 0, "paragraph"),
        SegmentDraft("said his lady to him one day,", "narration", 0, "clause"),
        SegmentDraft("“have you heard?”", "dialogue", 0, "clause"),
    ]


def test_sentence_boundary_needs_a_capital_after_the_stop() -> None:
    segments = segments_of("“Do you?” cried she. “Yes.” He nodded. “Good.”")
    assert [(s.text, s.boundary) for s in segments] == [
        ("“Do you?”", "paragraph"),
        ("cried she.", "clause"),
        ("“Yes.”", "sentence"),
        ("He nodded.", "sentence"),
        ("“Good.”", "sentence"),
    ]


def test_nested_single_quotes_stay_inside_the_quotation() -> None:
    segments = segments_of("“He told me ‘never again,’ and meant it,” she said.")
    assert texts_and_kinds(segments) == [
        ("“He told me ‘never again,’ and meant it,”", "dialogue"),
        ("she said.", "narration"),
    ]


def test_a_quotation_running_over_paragraphs_is_dialogue_in_each() -> None:
    segments = segments_of(
        "“I went to town on Monday.",
        "“And on Tuesday I came back,” she said.",
    )
    assert [(s.text, s.kind, s.paragraph) for s in segments] == [
        ("“I went to town on Monday.", "dialogue", 0),
        ("“And on Tuesday I came back,”", "dialogue", 1),
        ("she said.", "narration", 1),
    ]


def test_a_closing_quote_without_opening_ends_a_carried_over_quotation() -> None:
    segments = segments_of("and that was all,” she said.")
    assert texts_and_kinds(segments) == [
        ("and that was all,”", "dialogue"),
        ("she said.", "narration"),
    ]


def test_punctuation_after_a_closing_quote_belongs_to_the_quotation() -> None:
    assert texts_and_kinds(segments_of("“Hello”, he said.")) == [
        ("“Hello”,", "dialogue"),
        ("he said.", "narration"),
    ]


def test_a_lone_dash_between_quotations_is_not_a_segment() -> None:
    assert texts_and_kinds(segments_of("“Yes”—“No.”")) == [
        ("“Yes”—", "dialogue"),
        ("“No.”", "dialogue"),
    ]


def test_short_narration_sentences_are_merged_up_to_the_merge_size() -> None:
    sentence = "The gulls circled over the grey harbour wall again."  # 51 characters
    paragraph = " ".join([sentence] * 10)
    segments = segments_of(paragraph)
    assert [len(s.text) for s in segments] == [259, 259]
    assert all(len(s.text) <= MERGE_CHARS for s in segments)
    assert [s.boundary for s in segments] == ["paragraph", "sentence"]
    assert " ".join(s.text for s in segments) == paragraph


def test_a_quotation_that_fits_is_never_split() -> None:
    quote = "“" + " ".join(["I will not go."] * 40) + "”"
    assert len(quote) < 1000
    assert texts_and_kinds(segments_of(quote)) == [(quote, "dialogue")]


def test_a_quotation_over_max_chars_is_split_at_sentences() -> None:
    quote = "“" + " ".join(f"Sentence number {n} is here." for n in range(12)) + "”"
    segments = segments_of(quote, max_chars=120)
    assert all(s.kind == "dialogue" and len(s.text) <= 120 for s in segments)
    assert segments[0].text.startswith("“Sentence number 0")
    assert segments[-1].text.endswith("is here.”")
    assert all(s.text.rstrip("”").endswith(".") for s in segments)
    assert [s.boundary for s in segments[1:]] == ["sentence"] * (len(segments) - 1)
    assert " ".join(s.text for s in segments) == quote


def test_a_sentence_over_max_chars_is_split_at_clauses_then_words() -> None:
    sentence = (
        "When the tide turned, the boats came home, the nets were hung to dry, "
        "and the children ran along the wall shouting the names of every boat they knew "
        "without stopping for breath at all before the evening bell."
    )
    segments = segments_of(sentence, max_chars=80)
    assert [s.text for s in segments] == [
        "When the tide turned, the boats came home, the nets were hung to dry,",
        "and the children ran along the wall shouting the names of every boat they knew",
        "without stopping for breath at all before the evening bell.",
    ]
    assert [s.boundary for s in segments] == ["paragraph", "clause", "clause"]


def test_a_cut_at_words_never_leaves_mr_at_the_end() -> None:
    paragraph = "and " * 17 + "Mr. Bennet walked on and on without any pause at all"
    segments = segments_of(paragraph, max_chars=72)
    assert all(len(s.text) <= 72 for s in segments)
    assert not any(s.text.endswith("Mr.") for s in segments)
    assert " ".join(s.text for s in segments) == paragraph.strip()


def test_scene_break_marks_the_first_segment_of_the_next_paragraph() -> None:
    segments = segments_of("Before.", Paragraph("“After,” she said.", scene_break_before=True))
    assert [(s.text, s.boundary) for s in segments] == [
        ("Before.", "paragraph"),
        ("“After,”", "scene"),
        ("she said.", "clause"),
    ]


def test_no_segment_is_empty_or_unstripped() -> None:
    segments = segments_of("  “ ”  ", "—", "Text  with  “quote”  .  ")
    assert segments
    assert all(s.text and s.text == s.text.strip() for s in segments)


def test_an_empty_title_gives_no_empty_heading_segment() -> None:
    chapter = ParsedChapter("", "chapter", (Paragraph("Text."),))
    assert [s.kind for s in segment_chapter(chapter)] == ["narration"]


def test_max_chars_must_leave_room_for_words() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        segment_chapter(ParsedChapter("I", "chapter", ()), max_chars=10)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("It is a truth universally acknowledged.", 6),
        ("At four o’clock, the well-known man—Mr. Collins—came.", 9),
        ("“Yes!” — “No…”", 2),
        ("", 0),
    ],
)
def test_count_words(text: str, words: int) -> None:
    assert count_words(text) == words


# -- books that mark speech with single quotation marks ------------------------------------------


def test_single_quoted_speech_is_dialogue_and_apostrophes_stay_inside_it() -> None:
    segments = segments_of(
        "‘I saw the girls’ books,’ she said. ‘They don’t read ’em, and ’tis a pity.’",
        "Tom laughed.",
    )
    assert texts_and_kinds(segments) == [
        ("‘I saw the girls’ books,’", "dialogue"),
        ("she said.", "narration"),
        ("‘They don’t read ’em, and ’tis a pity.’", "dialogue"),
        ("Tom laughed.", "narration"),
    ]


def test_in_a_single_quote_book_double_marks_are_a_nested_quotation() -> None:
    segments = segments_of("‘He told me “never again,” and meant it,’ she said.")
    assert texts_and_kinds(segments) == [
        ("‘He told me “never again,” and meant it,’", "dialogue"),
        ("she said.", "narration"),
    ]


def test_a_single_quotation_closed_without_punctuation_ends_before_the_attribution() -> None:
    segments = segments_of("‘Come in’ he said, ‘and shut the door.’", "‘Yes’ or ‘No’ was all.")
    assert texts_and_kinds(segments) == [
        ("‘Come in’", "dialogue"),
        ("he said,", "narration"),
        ("‘and shut the door.’", "dialogue"),
        ("‘Yes’", "dialogue"),
        ("or", "narration"),
        ("‘No’", "dialogue"),
        ("was all.", "narration"),
    ]


def test_single_quoted_speech_running_over_paragraphs_keeps_dropped_letters_inside() -> None:
    segments = segments_of(
        "‘We was goin’ on all night.",
        "‘An’ then it stopped,’ said Tom, ‘at the Bennets’ gate.’",
        "and that was all,’ she said. It was the Bennets’ house.",
    )
    assert [(s.text, s.kind, s.paragraph) for s in segments] == [
        ("‘We was goin’ on all night.", "dialogue", 0),
        ("‘An’ then it stopped,’", "dialogue", 1),
        ("said Tom,", "narration", 1),
        ("‘at the Bennets’ gate.’", "dialogue", 1),
        ("and that was all,’", "dialogue", 2),
        ("she said. It was the Bennets’ house.", "narration", 2),
    ]


def test_straight_single_quotes_are_curled_and_split_like_a_printed_book() -> None:
    raw = "'I think--' (he hesitated) '--that it's the Smiths' dog,' said he."
    segments = segments_of(normalize_text(raw), normalize_text("'Is it?' she asked."))
    assert texts_and_kinds(segments) == [
        ("‘I think—’", "dialogue"),
        ("(he hesitated)", "narration"),
        ("‘—that it’s the Smiths’ dog,’", "dialogue"),
        ("said he.", "narration"),
        ("‘Is it?’", "dialogue"),
        ("she asked.", "narration"),
    ]


def test_a_double_quotation_broken_off_by_a_dash_closes_before_the_aside() -> None:
    segments = segments_of(normalize_text('"I think--" (she paused) "--yes."'))
    assert texts_and_kinds(segments) == [
        ("“I think—”", "dialogue"),
        ("(she paused)", "narration"),
        ("“—yes.”", "dialogue"),
    ]


@pytest.mark.parametrize(
    ("paragraphs", "convention"),
    [
        (["‘Yes,’ she said.", "‘No.’", "He left."], "single"),
        (["“Yes,” she said.", "“He said ‘no,’ and left.”", "“‘T ain’t so,” said Joe."], "double"),
        (["She said, ‘Yes.’ He said, ‘No.’"], "single"),  # no paragraph opens with a quote
        (["It was the Bennets’ house.", "Nobody spoke."], "double"),
        ([], "double"),
    ],
)
def test_the_dialogue_convention_is_the_mark_that_opens_speech(
    paragraphs: list[str], convention: str
) -> None:
    assert dialogue_convention(paragraphs) == convention


def test_a_double_quote_chapter_keeps_single_quotes_as_text() -> None:
    segments = segments_of("“Yes,” she said.", "He called it ‘the place’ and went in.")
    assert texts_and_kinds(segments) == [
        ("“Yes,”", "dialogue"),
        ("she said.", "narration"),
        ("He called it ‘the place’ and went in.", "narration"),
    ]


def test_a_caller_may_set_the_books_convention_for_a_chapter() -> None:
    chapter = ParsedChapter("I", "chapter", (Paragraph("He called it ‘the place’ and went in."),))
    segments = segment_chapter(chapter, convention="single")[1:]
    assert texts_and_kinds(segments) == [
        ("He called it", "narration"),
        ("‘the place’", "dialogue"),
        ("and went in.", "narration"),
    ]
